"""Static files of the console (CSS, its small script, vendored htmx) with long-lived cache headers.

Pages link ``static/<name>?v=<content hash>``; a request carrying the current hash is cacheable for
a year (``immutable``), anything else must revalidate, so a deployment never serves stale assets.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from shared.console.web import BASE, WebResponse

STATIC = Path(__file__).resolve().parent / "static"
TYPES = {".css": "text/css", ".js": "text/javascript", ".png": "image/png", ".svg": "image/svg+xml"}
IMMUTABLE = "public, max-age=31536000, immutable"


@functools.cache
def _file(name: str) -> tuple[bytes, str] | None:
    path = STATIC / name
    if "/" in name or name.startswith(".") or path.suffix not in TYPES or not path.is_file():
        return None
    data = path.read_bytes()
    return data, hashlib.sha256(data).hexdigest()[:16]


def asset_url(name: str) -> str:
    found = _file(name)
    if found is None:
        raise KeyError(f"no static file {name} in {STATIC}")
    return f"{BASE}/static/{name}?v={found[1]}"


def serve(name: str, version: str | None, if_none_match: str | None) -> WebResponse:
    found = _file(name)
    if found is None:
        return WebResponse(404, b"no such file", "text/plain")
    data, digest = found
    etag = f'"{digest}"'
    headers = {"ETag": etag, "Cache-Control": IMMUTABLE if version == digest else "no-cache",
               "X-Content-Type-Options": "nosniff"}
    if if_none_match == etag:
        return WebResponse(304, b"", TYPES[Path(name).suffix], headers)
    return WebResponse(200, data, TYPES[Path(name).suffix], headers)
