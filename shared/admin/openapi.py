"""The OpenAPI 3 document of the HTTP API, generated from :data:`shared.admin.api.ROUTES` and the
pydantic models (request and response schemas come from the same models that validate)."""

from __future__ import annotations

import copy
import functools
import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from shared.admin import bodies
from shared.admin.api import ROUTES, Route

REF = "#/components/schemas/{model}"
_PUBLIC = {"addin_config"}  # anonymous routes that need no token at all (the add-in's sign-in settings)
_ERROR = {"content": {"application/json": {"schema": {"$ref": REF.format(model="ErrorOut")}}}}
_NOSNIFF = {"X-Content-Type-Options": {"description": "always nosniff", "schema": {"type": "string",
                                                                                    "const": "nosniff"}}}
# Answers any route may give: the app's own faults and its remotes' (never the caller's input).
_SERVER_SIDE = {
    "500": {"description": "the app is misconfigured (an app setting) or failed; its log has the details", **_ERROR},
    "502": {"description": "Graph, the ERP or Azure failed or rejected the app's credentials", **_ERROR},
    "503": {"description": "throttled by a remote (Retry-After), or the app's configuration is incomplete",
            **_ERROR},
}
_HANDSHAKE = {"name": "validationToken", "in": "query", "required": False, "schema": {"type": "string"},
              "description": "Graph's subscription handshake: echoed as text/plain"}
_WEBHOOK_REFUSED = {
    "400": {"description": "not a notification body; `fields` names the bad field", **_ERROR},
    "413": {"description": "body larger than any notification", **_ERROR},
}


def _graph_hook(summary: str, operation_id: str) -> dict[str, Any]:
    return {"post": {
        "summary": summary, "operationId": operation_id, "security": [], "parameters": [_HANDSHAKE],
        # Any body: the handshake ignores it; a notification body that is not Graph's shape is a 400.
        "requestBody": {"required": False, "content": {"application/json": {"schema": {}}}},
        "responses": {"200": {"description": "validation token echoed", "headers": _NOSNIFF,
                              "content": {"text/plain": {"schema": {"type": "string"}}}},
                      "202": {"description": "accepted; notifications with a wrong clientState are ignored",
                              "headers": _NOSNIFF},
                      **_WEBHOOK_REFUSED, **_SERVER_SIDE}}}


_EXTRA_PATHS: dict[str, dict[str, Any]] = {
    "/graph/notifications": _graph_hook(
        "Graph change notifications (validationToken handshake, clientState checked)", "graph_notifications"),
    "/graph/lifecycle": _graph_hook(
        "Graph lifecycle notifications (reauthorizationRequired, subscriptionRemoved, missed)", "graph_lifecycle"),
    "/erp/notifications": {"post": {
        "summary": "Acumatica push notifications (X-Exsync-Secret header)",
        "operationId": "erp_notifications", "security": [],
        "parameters": [{"name": "X-Exsync-Secret", "in": "header", "required": True,
                        "schema": {"type": "string"}}],
        "requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}},
        "responses": {"202": {"description": "targeted syncs queued", "headers": _NOSNIFF,
                              "content": {"application/json": {"schema": {"type": "object"}}}},
                      "403": {"description": "missing or wrong X-Exsync-Secret", **_ERROR},
                      **_WEBHOOK_REFUSED, **_SERVER_SIDE}}},
    "/credentials/expiry": {"get": {
        "summary": "Check every server's credential end date now (rotate and alert unless notify=false)",
        "operationId": "credential_expiry",
        "parameters": [{"name": "server", "in": "query", "required": False, "schema": {"type": "string"}},
                       {"name": "notify", "in": "query", "required": False,
                        "schema": {"type": "string", "enum": ["true", "false", "1", "0", "yes", "no", "on", "off"]}}],
        "responses": {"200": {"description": "each server's credentials and their expiry",
                              "content": {"application/json": {"schema": {"type": "object"}}}},
                      "401": {"description": "missing or wrong function key"},
                      "400": {"description": "notify is not one of its values; `fields` names it", **_ERROR},
                      "404": {"description": "no such server; `fields` names it", **_ERROR}, **_SERVER_SIDE}}},
    "/addin/static/{path}": {"get": {
        "summary": "The Outlook add-in's task pane files (pane/, vendor/, assets/)", "operationId": "addin_static",
        "security": [],
        "parameters": [{"name": "path", "in": "path", "required": True, "schema": {"type": "string"}},
                       {"name": "office", "in": "query", "required": False,
                        "schema": {"type": "string", "enum": ["local"]}}],
        "responses": {"200": {"description": "the file"}, "404": {"description": "no such file"}}}},
    "/openapi.json": {"get": {"summary": "This document", "operationId": "openapi",
                              "responses": {"200": {"description": "OpenAPI 3 document",
                                                    "content": {"application/json": {"schema": {"type": "object"}}}},
                                            "401": {"description": "missing or wrong function key"}}}},
}


def _models() -> list[type[BaseModel]]:
    seen: dict[str, type[BaseModel]] = {"ErrorOut": bodies.ErrorOut, "FieldError": bodies.FieldError}
    for route in ROUTES:
        for model in (route.request, route.response):
            if model is not None:
                seen[model.__name__] = model
    return list(seen.values())


def _ref(model: type[BaseModel]) -> dict[str, Any]:
    return {"$ref": REF.format(model=model.__name__)}


def _operation(route: Route) -> dict[str, Any]:
    params = [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
              for p in re.findall(r"{(\w+)}", route.template)]
    params += [{"name": q, "in": "query", "required": False, "schema": {"type": "string"}} for q in route.query]
    if route.method in ("PUT", "DELETE"):
        params.append({"name": "If-Match", "in": "header", "required": False,
                       "schema": {"type": "string", "minLength": 1, "pattern": "\\S"},
                       "description": "ETag from a GET; the write fails with 412 if it changed"})
    error = _ERROR
    ok: dict[str, Any] = {"description": "success"}
    if route.response is not None:
        schema = _ref(route.response)
        if route.list_response:
            schema = {"type": "array", "items": schema}
        ok["content"] = {"application/json": {"schema": schema}}
    elif route.success != 204:
        ok["content"] = {"application/json": {"schema": {"type": "object"}}}
    op: dict[str, Any] = {
        "operationId": route.name, "summary": route.summary, "parameters": params,
        "responses": {str(route.success): ok,
                      "400": {"description": "invalid input; `fields` names each bad field", **error},
                      "401": {"description": "missing or wrong function key"},
                      "404": {"description": "not found; `fields` names the path parameter", **error},
                      **_SERVER_SIDE},
    }
    if route.method == "PUT":
        op["responses"]["201"] = {**ok, "description": "created (nothing had that name)"}
    if route.method in ("POST", "PUT", "DELETE"):
        op["responses"]["409"] = {"description": "already exists, or another run holds the mailbox", **error}
    if route.anonymous and route.name in _PUBLIC:
        op["security"] = []
        op["description"] = "Public: needs neither a function key nor a token, and returns nothing secret."
        del op["responses"]["401"]
    elif route.anonymous:  # the add-in's routes: the user's Entra token instead of a function key
        op["security"] = [{"entraBearer": []}]
        op["responses"]["401"] = {"description": "missing, invalid or expired Entra token", **error}
        op["responses"]["403"] = {"description": "the user is not a synced employee", **error}
    if route.method in ("PUT", "DELETE"):
        op["responses"]["412"] = {"description": "If-Match is not the current ETag (changed since read)", **error}
    if route.request is not None:
        schema = {"$ref": REF.format(model=_replace_name(route.request))} if _names_in_url(route) else _ref(
            route.request)
        op["requestBody"] = {"required": route.request not in (bodies.InitializeBody, bodies.StatusResetBody),
                             "content": {"application/json": {"schema": schema}}}
    return op


def _names_in_url(route: Route) -> bool:
    """A PUT whose URL carries the ``name`` of its body (``PUT /policies/{name}``): the body's is optional."""
    return route.method == "PUT" and route.template.endswith("{name}") and "name" in route.request.model_fields \
        if route.request is not None else False


def _replace_name(model: type[BaseModel]) -> str:
    return f"{model.__name__}Replace"


def _replace_schemas(defs: dict[str, Any]) -> dict[str, Any]:
    """``<Model>Replace``: the model's schema with ``name`` optional (it must equal the URL's if given)."""
    out = {}
    for route in ROUTES:
        if route.request is not None and _names_in_url(route):
            schema = copy.deepcopy(defs[route.request.__name__])
            schema["required"] = [f for f in schema.get("required", []) if f != "name"]
            schema["description"] = f"{schema.get('description', '')} `name`: optional; must equal the URL's."
            out[_replace_name(route.request)] = schema
    return out


def document_path(template: str) -> str:
    """A Functions route template as an OpenAPI path: ``files/{*rest}`` -> ``/files/{rest}``."""
    return "/" + re.sub(r"\{\*(\w+)\}", r"{\1}", template)


@functools.cache
def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document (cached; it depends on code only)."""
    _, defs = models_json_schema([(m, "validation") for m in _models()], ref_template=REF)
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        paths.setdefault(document_path(route.template), {})[route.method.lower()] = _operation(route)
    paths.update(_EXTRA_PATHS)
    schemas = defs.get("$defs", {})
    schemas.update(_replace_schemas(schemas))
    return {
        "openapi": "3.1.0",
        "info": {"title": "exsync admin API", "version": "1",
                 "description": "Policies, servers, mailboxes, sync requests, status and log of exsync."},
        "servers": [{"url": "/api"}],
        "security": [{"functionKey": []}, {"functionKeyQuery": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "functionKey": {"type": "apiKey", "in": "header", "name": "x-functions-key"},
                "functionKeyQuery": {"type": "apiKey", "in": "query", "name": "code"},
                "entraBearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            },
        },
    }
