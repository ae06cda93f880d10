"""Simulators of the services exsync talks to: Microsoft Graph v1.0 and Acumatica's REST API.

They are strict (unknown fields and bad values fail like the real services) and serve tests,
the demo, local runs and benchmarks. Admin surfaces live under ``/_sim`` (no auth).
"""
