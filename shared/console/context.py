"""What a console handler gets: the runtime, the request, the principal and the page helpers."""

from __future__ import annotations

import dataclasses
from typing import Any

from shared.console import render
from shared.console.session import Principal
from shared.console.web import WebRequest, WebResponse
from shared.runtime import Runtime

NOTICES = {
    "saved": "Saved.",
    "created": "Created.",
    "deleted": "Deleted.",
    "queued": "Queued: the worker picks the mailboxes up in a moment.",
    "dates_reset": "Dates reset: the next run re-reads the chosen record types.",
    "log_cleared": "Log cleared.",
    "warning_reset": "Warning cleared.",
    "schedule_saved": "Schedule saved.",
}

NAV = (("health", "Health"), ("policies", "Policies"), ("servers", "Servers"), ("sync", "Sync process"),
       ("system-mailboxes", "System mailboxes"))


@dataclasses.dataclass(frozen=True)
class Ctx:
    rt: Runtime
    req: WebRequest
    principal: Principal
    csrf: str

    def page(self, template: str, code: int = 200, **context: Any) -> WebResponse:
        notice = NOTICES.get(self.req.query.get("notice", ""))
        return render.html(template, code, me=self.principal, can_change=self.principal.can_change,
                           csrf=self.csrf, nav=NAV, notice=notice, **context)

    def form(self) -> dict[str, list[str]]:
        return self.req.form()

    def field(self, name: str) -> str:
        return (self.req.form().get(name) or [""])[-1].strip()

    def redirect(self, path: str, notice: str | None = None) -> WebResponse:
        sep = "&" if "?" in path else "?"
        target = f"{render.environment().globals['base']}/{path}" + (f"{sep}notice={notice}" if notice else "")
        return WebResponse.redirect(target, htmx=self.req.htmx)
