"""Outlook add-in blueprint: the task pane's static files under ``/api/addin/static/…`` (anonymous;
the API routes of the add-in are in the admin blueprint, generated from the route table). Later
replies of a filed conversation are filed by the sync engine (:mod:`shared.sync.follow`).

``index.html`` names Office.js as ``%OFFICE_JS%``: Microsoft's CDN, or the copy vendored by
``scripts/vendor_addin.py`` when the manifest asks for ``?office=local`` (offline development).
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

import azure.functions as func

from functions._http import ApiBlueprint, to_func
from shared.admin.http import error_json

bp = ApiBlueprint()

ROOT = Path(__file__).resolve().parent.parent / "addin"
SERVED = ("pane", "vendor", "assets")
OFFICE_CDN = "https://appsforoffice.microsoft.com/lib/1/hosted/office.js"
OFFICE_LOCAL = "../vendor/office/office.js"
TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css", ".html": "text/html",
         ".png": "image/png", ".svg": "image/svg+xml", ".json": "application/json"}
HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache",
           "Content-Security-Policy": "frame-ancestors https://*.office.com https://*.office365.com "
                                      "https://*.outlook.com https://*.microsoft.com https://*.cloud.microsoft 'self'"}


def resolve(path: str) -> Path | None:
    """The file under ``addin/{pane,vendor,assets}`` for ``path``, or None (no escaping the folder)."""
    parts = [p for p in path.split("/") if p]
    if not parts or parts[0] not in SERVED or any(p in ("..", ".") or "\\" in p for p in parts):
        return None
    target = ROOT.joinpath(*parts)
    try:
        target.resolve().relative_to(ROOT.resolve())
    except ValueError:
        return None
    return target if target.is_file() else None


def render(target: Path, office: str | None) -> bytes:
    data = target.read_bytes()
    if target.name == "index.html":
        data = data.replace(b"%OFFICE_JS%", (OFFICE_LOCAL if office == "local" else OFFICE_CDN).encode())
    return data


@bp.function_name(name="addin_static")
@bp.route(route="addin/static/{*path}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def static(req: func.HttpRequest) -> func.HttpResponse:
    target = resolve(req.route_params.get("path") or "")
    if target is None:
        return to_func(error_json(404, "not_found", "no such add-in file", [{"field": "path",
                                                                            "message": "not a file of the pane"}]))
    mimetype = TYPES.get(target.suffix) or mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    return func.HttpResponse(render(target, req.params.get("office")), status_code=200, mimetype=mimetype,
                             headers=HEADERS)

