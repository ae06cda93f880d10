"""State: the StateStore on Azure Table Storage and its in-memory twin."""
