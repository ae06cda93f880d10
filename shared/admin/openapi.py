"""The OpenAPI 3 document of the HTTP API, generated from :data:`shared.admin.api.ROUTES` and the
pydantic models (request and response schemas come from the same models that validate)."""

from __future__ import annotations

import functools
import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from shared.admin import bodies
from shared.admin.api import ROUTES, Route

REF = "#/components/schemas/{model}"
_EXTRA_PATHS: dict[str, dict[str, Any]] = {
    "/graph/notifications": {"post": {
        "summary": "Graph change notifications (validationToken handshake, clientState checked)",
        "operationId": "graph_notifications", "security": [],
        "parameters": [{"name": "validationToken", "in": "query", "required": False,
                        "schema": {"type": "string"}}],
        "responses": {"200": {"description": "validation token echoed",
                              "content": {"text/plain": {"schema": {"type": "string"}}}},
                      "202": {"description": "accepted; targeted syncs queued"}}}},
    "/graph/lifecycle": {"post": {
        "summary": "Graph lifecycle notifications (reauthorizationRequired, subscriptionRemoved, missed)",
        "operationId": "graph_lifecycle", "security": [],
        "responses": {"200": {"description": "validation token echoed"}, "202": {"description": "accepted"}}}},
    "/erp/notifications": {"post": {
        "summary": "Acumatica push notifications (X-Exsync-Secret header)",
        "operationId": "erp_notifications", "security": [],
        "parameters": [{"name": "X-Exsync-Secret", "in": "header", "required": True,
                        "schema": {"type": "string"}}],
        "requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}},
        "responses": {"202": {"description": "targeted syncs queued"}, "403": {"description": "bad secret"}}}},
    "/credentials/expiry": {"get": {
        "summary": "Check every credential's end date now (rotation and alerts unless notify=false)",
        "operationId": "credential_expiry",
        "parameters": [{"name": "server", "in": "query", "required": False, "schema": {"type": "string"}},
                       {"name": "notify", "in": "query", "required": False,
                        "schema": {"type": "string", "enum": ["true", "false"]}}],
        "responses": {"200": {"description": "each server's credentials with days left",
                              "content": {"application/json": {"schema": {"type": "object"}}}},
                      "401": {"description": "missing or wrong function key"},
                      "500": {"description": "the app is misconfigured; the message names the setting"}}}},
    "/openapi.json": {"get": {"summary": "This document", "operationId": "openapi",
                              "responses": {"200": {"description": "OpenAPI 3 document"}}}},
}


def _models() -> list[type[BaseModel]]:
    seen: dict[str, type[BaseModel]] = {"ErrorOut": bodies.ErrorOut}
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
        params.append({"name": "If-Match", "in": "header", "required": False, "schema": {"type": "string"},
                       "description": "ETag from a GET; the write fails with 412 if it changed"})
    error = {"content": {"application/json": {"schema": _ref(bodies.ErrorOut)}}}
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
                      "404": {"description": "not found", **error}},
    }
    if route.method in ("PUT", "DELETE"):
        op["responses"]["412"] = {"description": "the ETag in If-Match is stale", **error}
    if route.request is not None:
        op["requestBody"] = {"required": route.request not in (bodies.InitializeBody, bodies.StatusResetBody),
                             "content": {"application/json": {"schema": _ref(route.request)}}}
    return op


@functools.cache
def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document (cached; it depends on code only)."""
    _, defs = models_json_schema([(m, "validation") for m in _models()], ref_template=REF)
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        paths.setdefault(f"/{route.template}", {})[route.method.lower()] = _operation(route)
    paths.update(_EXTRA_PATHS)
    return {
        "openapi": "3.1.0",
        "info": {"title": "exsync admin API", "version": "1",
                 "description": "Policies, servers, mailboxes, sync requests, status and log of exsync."},
        "servers": [{"url": "/api"}],
        "security": [{"functionKey": []}, {"functionKeyQuery": []}],
        "paths": paths,
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {
                "functionKey": {"type": "apiKey", "in": "header", "name": "x-functions-key"},
                "functionKeyQuery": {"type": "apiKey", "in": "query", "name": "code"},
            },
        },
    }
