"""State store adapters: Azure Table Storage (:mod:`.table`) and its in-memory twin (:mod:`.memory`).

Both implement :class:`shared.ports.StateStore` with the rules of :mod:`.rules`; ids become
table keys through :mod:`.keys`, values become JSON through :mod:`.codec`.
"""
