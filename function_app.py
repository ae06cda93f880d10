"""The exsync Functions app: registers the blueprints in ``functions/`` and nothing else.

No I/O here; each function builds the runtime on first use. The one setting read at indexing is
Application Insights' connection string: telemetry starts with the worker, before any invocation.
"""

from __future__ import annotations

import importlib

import azure.functions as func

from functions import addin, admin, console, housekeeping, mailproc, notifications, schedule, subscriptions, worker
from shared.admin import telemetry

telemetry.configure_from_environment()

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)

for _module in (admin, schedule, worker, notifications, subscriptions, housekeeping, mailproc, console, addin):
    app.register_functions(_module.bp)

# The credentials blueprint (secret expiry alerts) is owned by its own module; register it when present.
try:
    _credentials = importlib.import_module("functions.credentials")
except ModuleNotFoundError as _exc:
    if _exc.name != "functions.credentials":
        raise
else:
    app.register_functions(_credentials.bp)
