"""One Graph request as handlers see it (direct or from inside a ``$batch``) and its reply."""

from __future__ import annotations

import dataclasses
import re
import urllib.parse
from collections.abc import Mapping
from typing import Any

from sim.graph.errors import GraphError

_MAXPAGE = re.compile(r"odata\.maxpagesize\s*=\s*(\d+)", re.I)
_BODY_TYPE = re.compile(r'outlook\.body-content-type\s*=\s*"?(text|html)"?', re.I)


@dataclasses.dataclass
class Call:
    method: str
    path: str                      # "/v1.0/users/..." decoded, as received
    query: Mapping[str, str]
    headers: Mapping[str, str]     # case-insensitive mapping
    body: Any
    base_url: str                  # "http://127.0.0.1:PORT"
    app_key: str = ""
    mailbox: str | None = None     # UPN of the mailbox the call addresses

    @property
    def segments(self) -> list[str]:
        parts = [urllib.parse.unquote(p) for p in self.path.split("/") if p]  # %2F stays inside its segment
        return parts[1:] if parts and parts[0].lower() == "v1.0" else parts

    @property
    def prefer(self) -> str:
        return self.headers.get("Prefer", "")

    @property
    def immutable(self) -> bool:
        return "immutableid" in self.prefer.replace(" ", "").replace('"', "").lower()

    @property
    def body_type(self) -> str | None:
        """``text`` or ``html`` from ``Prefer: outlook.body-content-type``."""
        match = _BODY_TYPE.search(self.prefer)
        return match.group(1).lower() if match else None

    @property
    def maxpagesize(self) -> int | None:
        match = _MAXPAGE.search(self.prefer)
        return int(match.group(1)) if match else None

    def link(self, path: str | None = None, **params: str) -> str:
        """An absolute link to this simulator (``@odata.nextLink`` and friends)."""
        url = f"{self.base_url}{path or self.path}"
        if params:
            url += "?" + "&".join(f"{k}={v}" for k, v in params.items())
        return url

    def json_object(self) -> dict[str, Any]:
        if self.body is None:
            return {}
        if not isinstance(self.body, dict):
            raise GraphError(400, "BadRequest", "Empty Payload. JSON content expected." if self.body == ""
                             else "Invalid JSON: expected an object in the request body.")
        return self.body


@dataclasses.dataclass
class Reply:
    status: int
    body: Any = None               # dict/list -> JSON, str -> text/plain, None -> empty
    headers: dict[str, str] = dataclasses.field(default_factory=dict)


def ok(body: Any, status: int = 200, **headers: str) -> Reply:
    return Reply(status, body, dict(headers))


def no_content() -> Reply:
    return Reply(204)
