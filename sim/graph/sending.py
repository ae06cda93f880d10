"""Exchange Online's sending limits per mailbox, enforced on every send (sendMail, send, reply).

Defaults are Exchange Online's: 30 messages a minute, 10,000 recipients in a rolling 24 hours,
500 recipients a message. A refused send is not accepted (nothing lands in Sent Items) and answers
the way Exchange reports the limit through Graph:

- over 500 recipients: 400 ``ErrorExceededMaxRecipientLimit`` (Exchange's
  ``550 5.5.3 RESOLVER.ADR.RecipLimit``);
- over 30 messages in a minute: 429 ``ErrorExceededMessageLimit`` with ``Retry-After``;
- over 10,000 recipients in 24 hours: 403 ``ErrorSubmissionQuotaExceeded`` (Exchange's
  ``554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException``).

``time_scale`` shrinks both windows X-fold (a test sends 100 mails at the 30-a-minute pace in a
few seconds). ``refusals`` counts refusals per mailbox and code (``GET /_sim/sending``).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections import deque
from typing import Any, Protocol

from aiohttp import web

from sim.graph.errors import GraphError

MINUTE_S = 60.0
DAY_S = 24 * 3600.0


@dataclasses.dataclass
class SendingLimits:
    messages_per_minute: int = 30
    recipients_per_day: int = 10_000
    recipients_per_message: int = 500


def recipient_count(fields: dict[str, Any]) -> int:
    """Recipients of a message (To, Cc and Bcc)."""
    return sum(len(fields.get(k) or []) for k in ("toRecipients", "ccRecipients", "bccRecipients"))


class SendingQuota:
    """Per-mailbox send history and the limits above."""

    def __init__(self, time_scale: float = 1.0, limits: SendingLimits | None = None) -> None:
        self.defaults = dataclasses.replace(limits or SendingLimits())
        self.limits = dataclasses.replace(self.defaults)
        self.default_scale = time_scale
        self.time_scale = time_scale
        self._sent: dict[str, deque[tuple[float, int]]] = {}
        self.refusals: dict[str, dict[str, int]] = {}
        self.accepted: dict[str, int] = {}

    def _refuse(self, mailbox: str, status: int, code: str, message: str,
                headers: dict[str, str] | None = None) -> GraphError:
        per = self.refusals.setdefault(mailbox, {})
        per[code] = per.get(code, 0) + 1
        return GraphError(status, code, message, headers)

    def charge(self, mailbox: str, recipients: int) -> None:
        """Admit one message of ``recipients`` or raise Exchange's error; admitted sends are recorded."""
        key = mailbox.lower()
        if recipients > self.limits.recipients_per_message:
            raise self._refuse(key, 400, "ErrorExceededMaxRecipientLimit",
                               f"550 5.5.3 RESOLVER.ADR.RecipLimit; the message has {recipients} recipients; "
                               f"the limit is {self.limits.recipients_per_message}.")
        now = time.monotonic()
        history = self._sent.setdefault(key, deque())
        day, minute = DAY_S / self.time_scale, MINUTE_S / self.time_scale
        while history and history[0][0] <= now - day:
            history.popleft()
        recent = [t for t, _ in history if t > now - minute]
        if len(recent) >= self.limits.messages_per_minute:
            wait = max(1, math.ceil(recent[0] + minute - now))
            raise self._refuse(key, 429, "ErrorExceededMessageLimit",
                               f"The mailbox exceeded its limit of {self.limits.messages_per_minute} messages "
                               "a minute; the message was not submitted.", {"Retry-After": str(wait)})
        used = sum(n for _, n in history)
        if used + recipients > self.limits.recipients_per_day:
            raise self._refuse(key, 403, "ErrorSubmissionQuotaExceeded",
                               "554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException; "
                               f"the mailbox reached its limit of {self.limits.recipients_per_day} recipients "
                               "in 24 hours.")
        history.append((now, recipients))
        self.accepted[key] = self.accepted.get(key, 0) + 1

    def state(self) -> dict[str, Any]:
        return {"limits": dataclasses.asdict(self.limits), "time_scale": self.time_scale,
                "accepted": dict(self.accepted), "refusals": {k: dict(v) for k, v in self.refusals.items()}}

    def configure(self, body: dict[str, Any]) -> None:
        """``{"time_scale": x, "messages_per_minute": n, ...}`` (unknown keys are a ValueError)."""
        for name, value in body.items():
            if name == "time_scale":
                if not isinstance(value, int | float) or value <= 0:
                    raise ValueError("time_scale: expected a number above 0")
                self.time_scale = float(value)
            elif name in SendingLimits.__dataclass_fields__:
                if not isinstance(value, int) or value < 1:
                    raise ValueError(f"{name}: expected a whole number of at least 1")
                setattr(self.limits, name, value)
            else:
                raise ValueError(f"{name}: unknown; use time_scale or {', '.join(SendingLimits.__dataclass_fields__)}")

    def reset(self) -> None:
        self.limits = dataclasses.replace(self.defaults)
        self.time_scale = self.default_scale
        self._sent.clear()
        self.refusals.clear()
        self.accepted.clear()


class HasSending(Protocol):
    sending: SendingQuota


def register(app: web.Application, sim: HasSending) -> None:
    """``GET /_sim/sending`` (limits, time scale, accepted and refused sends per mailbox) and
    ``POST /_sim/sending`` (change the time scale or a limit; reset restores them)."""

    async def sending(request: web.Request) -> web.Response:
        if request.method == "POST":
            try:
                body = await request.json()
                if not isinstance(body, dict):
                    raise ValueError("body: expected a JSON object")
                sim.sending.configure(body)
            except ValueError as exc:
                return web.json_response({"error": str(exc)}, status=400)
        return web.json_response(sim.sending.state())

    app.router.add_route("GET", "/_sim/sending", sending)
    app.router.add_route("POST", "/_sim/sending", sending)
