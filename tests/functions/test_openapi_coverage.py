"""The OpenAPI document describes every HTTP function the app registers, each method of it, with
the auth the function really has (a function key unless anonymous)."""

from __future__ import annotations

import re

import function_app
from devhost.host import functions_of
from functions._http import API_PREFIX
from shared.admin.openapi import openapi_document
from tests.fuzz.routes import HTML_PAGES


def _http_functions() -> list[tuple[str, str, set[str], bool]]:
    out = []
    for fn in functions_of(function_app.app):
        trigger = fn.get_trigger().get_dict_repr()
        if trigger["type"] != "httpTrigger" or fn.get_function_name() in HTML_PAGES:
            continue
        template = str(trigger.get("route") or fn.get_function_name()).removeprefix(API_PREFIX)
        route = re.sub(r"\{\*?(\w+)(?::[^}]*)?\??\}", r"{\1}", template)
        methods = {str(getattr(m, "value", m)).lower() for m in trigger.get("methods") or ["get", "post"]}
        level = str(getattr(trigger.get("authLevel"), "value", trigger.get("authLevel") or "function")).lower()
        out.append((fn.get_function_name(), f"/{route}", methods, level == "anonymous"))
    return out


def test_every_http_function_and_method_is_documented() -> None:
    doc = openapi_document()
    functions = _http_functions()
    assert len(functions) >= 10
    missing = [f"{m.upper()} {path} ({name})" for name, path, methods, _ in functions for m in methods
               if m not in doc["paths"].get(path, {})]
    assert missing == []


def test_documented_auth_matches_the_function() -> None:
    doc = openapi_document()
    for name, path, methods, anonymous in _http_functions():
        for method in methods:
            security = doc["paths"][path][method].get("security", doc["security"])
            # anonymous functions need no function key (the add-in's routes check an Entra token instead)
            needs_key = any(scheme.startswith("functionKey") for option in security for scheme in option)
            assert needs_key != anonymous, f"{method.upper()} {path} ({name})"


def test_no_documented_path_lacks_a_function() -> None:
    registered = {path for _, path, _, _ in _http_functions()}
    assert sorted(set(openapi_document()["paths"]) - registered) == []
