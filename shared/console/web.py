"""The console's framework-free request and response (the Functions adapter converts to and from them)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from http.cookies import SimpleCookie
from urllib.parse import parse_qsl, urlsplit

SAFE_METHODS = frozenset({"GET", "HEAD"})
BASE = "/console"   # where the console is served (functions/console.py); its cookies are scoped to it


@dataclasses.dataclass(frozen=True)
class WebRequest:
    """One browser request below :data:`BASE`: ``path`` is relative to it (``"policies/sales"``)."""

    method: str
    url: str
    path: str
    query: Mapping[str, str] = dataclasses.field(default_factory=dict)
    headers: Mapping[str, str] = dataclasses.field(default_factory=dict)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lowered), None)

    def cookie(self, name: str) -> str | None:
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(self.header("Cookie") or "")
        except Exception:  # a malformed Cookie header reads as no cookie
            return None
        morsel = jar.get(name)
        return morsel.value if morsel else None

    def form(self) -> dict[str, list[str]]:
        """The url-encoded form body, every value of every field (checkbox groups repeat a name)."""
        out: dict[str, list[str]] = {}
        for key, value in parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True):
            out.setdefault(key, []).append(value)
        return out

    @property
    def safe(self) -> bool:
        return self.method.upper() in SAFE_METHODS

    @property
    def htmx(self) -> bool:
        return self.header("HX-Request") == "true"

    @property
    def secure(self) -> bool:
        return urlsplit(self.url).scheme == "https"

    @property
    def origin(self) -> str:
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}"


@dataclasses.dataclass(frozen=True)
class WebResponse:
    status: int
    body: bytes = b""
    content_type: str = "text/html"
    headers: Mapping[str, str] = dataclasses.field(default_factory=dict)
    cookies: tuple[str, ...] = ()   # Set-Cookie values

    @classmethod
    def redirect(cls, location: str, *, htmx: bool = False, cookies: tuple[str, ...] = ()) -> WebResponse:
        """303 for a browser; for htmx a 204 with ``HX-Redirect`` (a 303 would be followed inside fetch)."""
        if htmx:
            return cls(204, headers={"HX-Redirect": location}, cookies=cookies)
        return cls(303, headers={"Location": location}, cookies=cookies)


def set_cookie(name: str, value: str, *, secure: bool, max_age: int | None = None,
               same_site: str = "Lax") -> str:
    parts = [f"{name}={value}", f"Path={BASE}", "HttpOnly", f"SameSite={same_site}"]
    if secure or same_site == "None":
        parts.append("Secure")
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    return "; ".join(parts)
