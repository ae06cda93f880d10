"""exsync application package: everything the Azure Functions call.

Layers (enforced by import-linter, see pyproject.toml):
``domain`` (pure records and configuration) <- ``sync`` (engine, pure planning)
<- adapters ``graph``, ``erp``, ``state``, ``credentials`` <- ``functions`` (triggers).
"""
