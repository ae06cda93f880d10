"""Simulated Microsoft 365 tenant: a strict, in-memory HTTP server for the Graph v1.0 surface exsync uses.

Start it with ``python -m sim.graph --host 127.0.0.1 --port PORT --users a@contoso.test,b@contoso.test``.
See ``sim/graph/README.md`` for what it serves and the admin surface under ``/_sim``.
"""
