"""Every HTTP function of the app, read from the app object itself (so a new route joins every suite)."""

from __future__ import annotations

import dataclasses
import re

import function_app
from devhost.host import functions_of
from functions._http import API_PREFIX

# HTTP functions that serve HTML pages, not the API: outside the OpenAPI document and the fuzz run.
# The admin console: tests/browser/test_console.py covers its sign-in, roles, CSRF and every page.
HTML_PAGES = frozenset({"console"})


@dataclasses.dataclass(frozen=True)
class HttpRoute:
    function: str
    template: str  # Functions route template, relative to /api
    methods: tuple[str, ...]
    anonymous: bool

    def path(self, fill: str = "x") -> str:
        """The route with every parameter filled in (``{name}`` -> ``x``)."""
        return re.sub(r"\{[^}]+\}", fill, self.template)


def http_routes() -> list[HttpRoute]:
    out = []
    for fn in functions_of(function_app.app):
        trigger = fn.get_trigger().get_dict_repr()
        if trigger["type"] != "httpTrigger":
            continue
        if fn.get_function_name() in HTML_PAGES:
            continue
        level = str(getattr(trigger.get("authLevel"), "value", trigger.get("authLevel") or "function"))
        methods = tuple(sorted(str(getattr(m, "value", m)).upper() for m in trigger.get("methods") or ["GET", "POST"]))
        route = str(trigger.get("route") or fn.get_function_name()).removeprefix(API_PREFIX)
        out.append(HttpRoute(fn.get_function_name(), route, methods,
                             level.lower() == "anonymous"))
    return out
