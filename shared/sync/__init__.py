"""The sync engine: detect changes, plan actions (pure), execute them through the ports."""
