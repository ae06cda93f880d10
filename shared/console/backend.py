"""The console's only way to read or change configuration and runs: the admin API's own handlers.

:func:`call` builds the :class:`~shared.admin.http.ApiRequest` the API would receive and runs it
through :func:`shared.admin.api.dispatch`, so validation, ETags and every rule are the API's.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from shared.admin.api import dispatch
from shared.admin.http import ApiRequest
from shared.runtime import Runtime


@dataclasses.dataclass(frozen=True, slots=True)
class Result:
    status: int
    data: Any
    etag: str | None

    @property
    def ok(self) -> bool:
        return self.status < 300

    @property
    def conflict(self) -> bool:
        """Someone else changed the record since it was read (If-Match failed)."""
        return self.status == 412

    @property
    def field_errors(self) -> dict[str, str]:
        """The API's ``fields`` (``[{"field", "message"}, ...]``) by field name."""
        fields = self.data.get("fields") if isinstance(self.data, dict) else None
        out: dict[str, str] = {}
        for item in fields if isinstance(fields, list) else []:
            if isinstance(item, dict) and item.get("field"):
                name, message = str(item["field"]), str(item.get("message", ""))
                out[name] = f"{out[name]}; {message}" if name in out else message
        return out

    @property
    def message(self) -> str:
        return str(self.data.get("message", "")) if isinstance(self.data, dict) else ""


async def call(rt: Runtime, method: str, template: str, params: Mapping[str, str] | None = None, *,
               body: Any = None, query: Mapping[str, str] | None = None, etag: str | None = None) -> Result:
    headers = {"Content-Type": "application/json"}
    if etag:
        headers["If-Match"] = etag
    raw = b"" if body is None else json.dumps(body).encode()
    resp = await dispatch(rt, template, ApiRequest(method, dict(params or {}), dict(query or {}), headers, raw))
    etag_out = next((v for k, v in resp.headers.items() if k.lower() == "etag"), None)
    return Result(resp.status, resp.data(), etag_out)


async def data(rt: Runtime, template: str, params: Mapping[str, str] | None = None,
               query: Mapping[str, str] | None = None) -> Any:
    """A GET that must succeed (the console only links to records that exist)."""
    result = await call(rt, "GET", template, params, query=query)
    if not result.ok:
        raise LookupError(result.message or f"GET {template} answered {result.status}")
    return result.data
