"""Graph's error shape and the exception handlers raise to answer with it."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any


class GraphError(Exception):
    """An error answer: HTTP status, Graph error code and message (and optional headers)."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return error_body(self.code, self.message)


def error_body(code: str, message: str) -> dict[str, Any]:
    """``{"error": {"code", "message", "innerError": {...}}}`` as Graph sends it."""
    request_id = str(uuid.uuid4())
    return {"error": {"code": code, "message": message, "innerError": {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S"),
        "request-id": request_id, "client-request-id": request_id}}}


_STATUS_CODES = {400: "BadRequest", 401: "InvalidAuthenticationToken", 403: "Forbidden",
                 404: "ResourceNotFound", 409: "Conflict", 410: "Gone", 412: "PreconditionFailed",
                 429: "TooManyRequests", 500: "InternalServerError", 502: "BadGateway",
                 503: "ServiceUnavailable", 504: "GatewayTimeout"}


def fault_body(status: int, message: str) -> dict[str, Any]:
    """Error body for an injected fault (``sim.common`` calls this)."""
    code = "ApplicationThrottled" if status == 429 else _STATUS_CODES.get(status, "UnknownError")
    return error_body(code, message)


def bad_request(message: str, code: str = "BadRequest") -> GraphError:
    return GraphError(400, code, message)


def not_found(what: str, code: str = "ErrorItemNotFound") -> GraphError:
    return GraphError(404, code, f"The specified object was not found in the store. ({what})")
