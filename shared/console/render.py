"""Jinja2 rendering with autoescaping, and the security headers every console page carries."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import jinja2

from shared.console import forms
from shared.console.static import asset_url
from shared.console.web import BASE, WebResponse

TEMPLATES = Path(__file__).resolve().parent / "templates"

# Nothing inline: scripts and styles come from the console's static/ only; no eval (htmx's hx-on and
# js: values are not used), no framing, forms post only to the console itself.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


@functools.cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.globals["asset"] = asset_url
    env.globals["base"] = BASE
    env.filters["words"] = forms.words
    return env


def html(template: str, code: int = 200, **context: Any) -> WebResponse:
    body = environment().get_template(template).render(**context)
    return WebResponse(code, body.encode(), "text/html", dict(PAGE_HEADERS))


def text(message: str, status: int) -> WebResponse:
    return WebResponse(status, message.encode(), "text/plain", dict(PAGE_HEADERS))
