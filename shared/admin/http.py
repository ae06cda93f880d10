"""Framework-free HTTP request/response for the admin API, and error -> status mapping.

The Functions adapters convert ``func.HttpRequest`` into :class:`ApiRequest` and
:class:`ApiResponse` back into ``func.HttpResponse``; the logic never sees the host's types.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Mapping
from typing import Any

from shared.errors import (
    AlreadyExists,
    AuthenticationFailed,
    ConcurrencyConflict,
    ConfigurationError,
    ExsyncError,
    LeaseTaken,
    NotAuthenticated,
    NotFound,
    NotPermitted,
    PayloadTooLarge,
    RemoteError,
    Throttled,
    ValidationFailed,
)

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class ApiRequest:
    method: str
    route_params: Mapping[str, str] = dataclasses.field(default_factory=dict)
    query: Mapping[str, str] = dataclasses.field(default_factory=dict)
    headers: Mapping[str, str] = dataclasses.field(default_factory=dict)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return None

    def json_object(self, *, optional: bool = False) -> dict[str, Any]:
        """The body as a JSON object, or ValidationFailed naming the body."""
        if not self.body.strip():
            if optional:
                return {}
            raise ValidationFailed({"(body)": "a JSON object is required"})
        try:
            data = json.loads(self.body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValidationFailed({"(body)": f"not valid JSON: {exc}"}) from exc
        if not isinstance(data, dict):
            raise ValidationFailed({"(body)": "expected a JSON object"})
        return data

    def param(self, name: str) -> str:
        value = self.route_params.get(name)
        if not value:
            raise ValidationFailed({name: "missing from the URL path"})
        return value


@dataclasses.dataclass(frozen=True)
class ApiResponse:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: Mapping[str, str] = dataclasses.field(default_factory=dict)

    @classmethod
    def json(cls, data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> ApiResponse:
        return cls(status, json.dumps(data, default=str).encode(), "application/json", dict(headers or {}))

    @classmethod
    def text(cls, text: str, status: int = 200) -> ApiResponse:
        return cls(status, text.encode(), "text/plain", {"X-Content-Type-Options": "nosniff"})

    @classmethod
    def empty(cls, status: int = 204) -> ApiResponse:
        return cls(status, b"", "application/json")

    def data(self) -> Any:
        return json.loads(self.body) if self.body else None


def error_body(code: str, message: str, fields: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """The ONE error shape of every route: ``{"error": code, "message": ..., "fields": [...]}``.

    Each entry of ``fields`` is ``{"field": name, "message": why and how to fix it}``; the list is
    empty when no input is to blame (a remote service failed, the app is misconfigured).
    """
    return {"error": code, "message": message, "fields": list(fields or [])}


def error_json(status: int, code: str, message: str, fields: list[dict[str, str]] | None = None,
               headers: Mapping[str, str] | None = None) -> ApiResponse:
    return ApiResponse.json(error_body(code, message, fields), status, headers)


# Who is to blame decides the status: the caller's input 4xx; the app's own configuration 503
# (never 400: an ERP or an admin cannot fix an app setting by changing its request); a remote 502/503.
_STATUS: tuple[tuple[type[ExsyncError], int, str], ...] = (
    (PayloadTooLarge, 413, "payload_too_large"), (ValidationFailed, 400, "validation_failed"),
    (NotAuthenticated, 401, "not_authenticated"), (NotPermitted, 403, "forbidden"), (NotFound, 404, "not_found"),
    (AlreadyExists, 409, "already_exists"), (ConcurrencyConflict, 412, "precondition_failed"),
    (LeaseTaken, 409, "busy"), (ConfigurationError, 503, "configuration_error"),
    (AuthenticationFailed, 502, "authentication_failed"), (Throttled, 503, "throttled"),
    (RemoteError, 502, "remote_error"),
)


def _fields(exc: ExsyncError, default_field: str | None) -> list[dict[str, str]]:
    if isinstance(exc, ValidationFailed):
        return [{"field": name, "message": why} for name, why in exc.errors.items()]
    field = exc.field or (default_field if isinstance(exc, NotFound) else None)
    return [{"field": field, "message": str(exc)}] if field else []


def error_response(exc: ExsyncError, default_field: str | None = None) -> ApiResponse:
    """Map an exsync error to its HTTP status and the one error shape naming what to fix.

    ``default_field`` is blamed by a :class:`NotFound` that names no field (the route's last path
    parameter: the thing that was looked up).
    """
    for kind, status, code in _STATUS:
        if isinstance(exc, kind):
            headers = {}
            if isinstance(exc, Throttled) and exc.retry_after:
                headers["Retry-After"] = str(int(exc.retry_after))
            return error_json(status, code, str(exc), _fields(exc, default_field), headers)
    return error_json(500, "internal_error", str(exc))
