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
        return cls(status, text.encode(), "text/plain")

    @classmethod
    def empty(cls, status: int = 204) -> ApiResponse:
        return cls(status, b"", "application/json")

    def data(self) -> Any:
        return json.loads(self.body) if self.body else None


def error_response(exc: ExsyncError) -> ApiResponse:
    """Map an exsync error to its HTTP status and a JSON body naming what to fix."""
    if isinstance(exc, ValidationFailed):
        body = {"error": "validation_failed", "message": str(exc), "fields": exc.errors}
        return ApiResponse.json(body, 400)
    table: list[tuple[type[ExsyncError], int, str]] = [
        (NotAuthenticated, 401, "not_authenticated"), (NotPermitted, 403, "forbidden"),
        (NotFound, 404, "not_found"), (AlreadyExists, 409, "already_exists"),
        (ConcurrencyConflict, 412, "precondition_failed"), (LeaseTaken, 409, "busy"),
        (ConfigurationError, 400, "configuration_error"),
        (AuthenticationFailed, 502, "authentication_failed"),
        (Throttled, 503, "throttled"), (RemoteError, 502, "remote_error"),
    ]
    for kind, status, code in table:
        if isinstance(exc, kind):
            headers = {}
            if isinstance(exc, Throttled) and exc.retry_after:
                headers["Retry-After"] = str(int(exc.retry_after))
            return ApiResponse.json({"error": code, "message": str(exc)}, status, headers)
    return ApiResponse.json({"error": "internal_error", "message": str(exc)}, 500)
