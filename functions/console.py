"""Admin console blueprint: every ``/console/...`` request goes to :func:`shared.console.app.handle`.

A plain blueprint, not an :class:`~functions._http.ApiBlueprint`: the console is a web site beside
the API (``/console``), not an API route (``/api/...``).

Auth level ANONYMOUS because browsers carry no function key: the console signs people in itself
(Entra ID, see ``shared.console.signin``) and applies its access table to every request.
"""

from __future__ import annotations

import azure.functions as func

from functions._http import setup_failed
from functions._runtime import get_runtime
from shared.console.app import handle
from shared.console.setup import current_console
from shared.console.web import WebRequest, WebResponse
from shared.errors import ConfigurationError

bp = func.Blueprint()


def _to_web(req: func.HttpRequest) -> WebRequest:
    return WebRequest(method=req.method, url=req.url, path=req.route_params.get("path") or "",
                      query=dict(req.params), headers=dict(req.headers.items()), body=req.get_body() or b"")


def _to_func(resp: WebResponse) -> func.HttpResponse:
    out = func.HttpResponse(resp.body, status_code=resp.status, headers=dict(resp.headers),
                            mimetype=resp.content_type, charset="utf-8")
    for cookie in resp.cookies:
        out.headers.add("Set-Cookie", cookie)
    return out


@bp.function_name(name="console")
@bp.route(route="console/{*path}", methods=["GET", "POST"], auth_level=func.AuthLevel.ANONYMOUS)
async def console(req: func.HttpRequest) -> func.HttpResponse:
    try:
        runtime = await get_runtime()
        setup = await current_console(runtime)
    except ConfigurationError as exc:
        return setup_failed(exc)
    return _to_func(await handle(runtime, setup, _to_web(req)))
