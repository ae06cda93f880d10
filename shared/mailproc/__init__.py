"""System mailboxes: incoming mail of company mailboxes becomes ERP cases, leads and activities."""
