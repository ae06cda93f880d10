"""Expiry alerts: the channels (log record, Graph sendMail, incoming webhook) and the check run.

:func:`check_server_expiry` reads every credential end date of a server, decides the threshold
each is in, and sends each channel's alert once per threshold per credential, keeping the state in
the DocumentStore (kind ``credential_alerts``). A failed channel is retried on the next run; the
others are not repeated.

The log record is the one the infra alert rule matches: logger ``shared.credentials.alerts``,
message starting with ``exsync.credential.expiry``, level WARNING (60/30/14 days) or ERROR
(7/1 days, expired), and ``extra`` fields (Application Insights ``customDimensions``)
exsync_event=credential_expiry, event, server, credential, days_left, expires_on, threshold. An
unreadable source logs exsync_event=credential_expiry without days_left (the rule fires on it too).
Alerts carry names and dates only, never a secret value.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

from shared.credentials.expiry import (
    ALERT_STATE_KIND,
    ERROR_AT,
    EXPIRED,
    CredentialExpiry,
    ExpiryProblem,
    channels_due,
    collect_expiries,
    days_left,
    record_sent,
    threshold_for,
)
from shared.credentials.graph_admin import GraphAdmin
from shared.credentials.vault import VaultFactory
from shared.domain.config import ServerConfig
from shared.errors import ConcurrencyConflict, ExsyncError, RemoteError
from shared.ports import DocumentStore

logger = logging.getLogger(__name__)

EVENT = "exsync.credential.expiry"
PROBLEM_EVENT = "exsync.credential.unreadable"


@dataclasses.dataclass(frozen=True, slots=True)
class Notice:
    """What a channel delivers: an event name, a level, a subject, a text and structured fields."""

    event: str
    level: int
    subject: str
    text: str
    fields: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True, slots=True)
class Alert:
    """A credential in an expiry threshold."""

    expiry: CredentialExpiry
    threshold: int
    days_left: int

    @property
    def level(self) -> int:
        return logging.ERROR if self.threshold <= ERROR_AT else logging.WARNING

    @property
    def expired(self) -> bool:
        return self.threshold == EXPIRED

    def subject(self) -> str:
        when = "has EXPIRED" if self.expired else f"expires in {self.days_left} day(s)"
        return f"exsync: {self.expiry.label()} of server {self.expiry.server} {when}"

    def text(self) -> str:
        end = self.expiry.expires_on.isoformat() if self.expiry.expires_on else "unknown"
        impact = ("Mail, contacts, tasks and calendar sync for this server stops now."
                  if self.expired else "When it lapses, sync for this server stops.")
        return (f"{self.subject()} (end date {end}).\n{impact}\n"
                "Fix: create a new client secret on the app registration and store it as a new version of "
                "the Key Vault secret (or enable EXSYNC_ROTATION_ENABLED), or switch the server to a "
                "certificate or a federated (secretless) credential. See docs/credentials.md.")

    def notice(self) -> Notice:
        exp = self.expiry
        return Notice(EVENT, self.level, self.subject(), self.text(), {
            "server": exp.server, "credential": exp.label(), "credential_source": exp.source.value,
            "days_left": self.days_left, "threshold": self.threshold,
            "expires_on": exp.expires_on.isoformat() if exp.expires_on else None})


def telemetry_event(event: str) -> str:
    """The ``customDimensions.exsync_event`` value the infra alert rules match.

    ``exsync.credential.expiry`` -> ``credential_expiry`` (infra/modules/alerts.bicep).
    """
    return event.removeprefix("exsync.").replace(".", "_")


class AlertChannel(Protocol):
    name: str

    async def send(self, notice: Notice) -> None:
        """Deliver ``notice``; raise ExsyncError on failure."""
        ...


class LogChannel:
    """A structured log record the monitoring alert rule matches (message starts with the event)."""

    name = "log"

    async def send(self, notice: Notice) -> None:
        detail = " ".join(f"{k}={v}" for k, v in notice.fields.items())
        logger.log(notice.level, "%s %s", notice.event, detail,
                   extra={"event": notice.event, "exsync_event": telemetry_event(notice.event), **notice.fields})


class EmailChannel:
    """Mail to the admins through Graph ``sendMail`` from ``sender`` (a mailbox the app may send as)."""

    name = "email"

    def __init__(self, graph: GraphAdmin, sender: str, recipients: Sequence[str]) -> None:
        self._graph, self._sender, self._recipients = graph, sender, list(recipients)

    async def send(self, notice: Notice) -> None:
        await self._graph.send_mail(self._sender, self._recipients, notice.subject, notice.text)


class WebhookChannel:
    """POST ``{"text": ...}`` to an incoming webhook (Teams and Slack both accept it).

    Sent with aiohttp, which (unlike httpx at INFO) never logs the URL: the URL is the credential.
    """

    name = "webhook"

    def __init__(self, url: str, *, timeout: float = 15.0) -> None:
        self._url = url
        self._timeout = timeout

    async def send(self, notice: Notice) -> None:
        import aiohttp

        body = {"text": notice.text, "summary": notice.subject, "exsync": {"event": notice.event, **notice.fields}}
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self._timeout)) as session, \
                    session.post(self._url, json=body) as response:
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:  # never put the URL in the message
            raise RemoteError(f"alert webhook: {exc.__class__.__name__}") from exc
        if status >= 300:
            raise RemoteError(f"alert webhook answered HTTP {status}", status=status)


@dataclasses.dataclass(frozen=True)
class AlertConfig:
    """Where alerts go (app settings EXSYNC_ALERT_EMAILS, _SENDER, _WEBHOOK_URL)."""

    recipients: tuple[str, ...] = ()
    sender: str | None = None
    webhook_url: str | None = dataclasses.field(default=None, repr=False)

    def channels(self, graph: GraphAdmin | None) -> list[AlertChannel]:
        out: list[AlertChannel] = [LogChannel()]
        if self.recipients and self.sender and graph is not None:
            out.append(EmailChannel(graph, self.sender, self.recipients))
        if self.webhook_url:
            out.append(WebhookChannel(self.webhook_url))
        return out


@dataclasses.dataclass(frozen=True, slots=True)
class CredentialReport:
    expiry: CredentialExpiry
    days_left: int | None
    threshold: int | None
    alerted: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        exp = self.expiry
        return {"server": exp.server, "source": exp.source.value, "name": exp.name, "id": exp.ident,
                "expires_on": exp.expires_on.isoformat() if exp.expires_on else None,
                "days_left": self.days_left, "threshold": self.threshold,
                "alerted": list(self.alerted), "failed": list(self.failed)}


@dataclasses.dataclass(frozen=True, slots=True)
class ServerExpiryReport:
    server: str
    credentials: tuple[CredentialReport, ...]
    problems: tuple[ExpiryProblem, ...]

    def to_json(self) -> dict[str, Any]:
        return {"server": self.server, "credentials": [c.to_json() for c in self.credentials],
                "problems": [{"source": p.source.value, "cause": p.cause, "fix": p.fix}
                             for p in self.problems]}


async def deliver(notice: Notice, channels: Sequence[AlertChannel]) -> tuple[list[str], list[str]]:
    """Send ``notice`` on every channel; (delivered, failed) channel names. Failures are logged."""
    delivered: list[str] = []
    failed: list[str] = []
    for channel in channels:
        try:
            await channel.send(notice)
            delivered.append(channel.name)
        except ExsyncError as exc:
            failed.append(channel.name)
            logger.warning("%s alert via %s failed: %s", notice.event, channel.name, exc)
    return delivered, failed


async def _alert_one(expiry: CredentialExpiry, threshold: int, now: datetime, store: DocumentStore,
                     channels: Sequence[AlertChannel]) -> tuple[list[str], list[str]]:
    assert expiry.expires_on is not None  # a threshold implies an end date
    stored = await store.get_doc(ALERT_STATE_KIND, expiry.key)
    state = stored.value if stored else None
    due = channels_due(state, expiry.expires_on, threshold, [c.name for c in channels])
    if not due:
        return [], []
    alert = Alert(expiry, threshold, days_left(expiry.expires_on, now))
    delivered, failed = await deliver(alert.notice(), [c for c in channels if c.name in due])
    if delivered:
        new_state = record_sent(state, expiry.expires_on, threshold, delivered)
        try:
            await store.put_doc(ALERT_STATE_KIND, expiry.key, new_state, stored.etag if stored else None)
        except ConcurrencyConflict:
            logger.info("alert state of %s changed meanwhile (another instance alerted)", expiry.key)
    return delivered, failed


async def check_server_expiry(server: ServerConfig, *, vaults: VaultFactory | None, graph: GraphAdmin | None,
                              store: DocumentStore, channels: Sequence[AlertChannel],
                              clock: Callable[[], datetime], notify: bool = True,
                              retiring: frozenset[str] = frozenset()) -> ServerExpiryReport:
    """Days left on every credential of ``server``; alert each due threshold once per channel.

    ``retiring`` holds app-registration keyIds a rotation replaced and will remove after the
    overlap: they are reported but not alerted.
    """
    expiries, problems = await collect_expiries(server, vaults=vaults, graph=graph)
    for problem in problems:
        # exsync_event credential_expiry without days_left: the infra rule alerts on it too
        logger.warning("%s server=%s source=%s cause=%s", PROBLEM_EVENT, server.name, problem.source.value,
                       problem.cause, extra={"event": PROBLEM_EVENT, "exsync_event": telemetry_event(EVENT),
                                             "server": server.name, "credential": problem.source.value})
    now = clock()
    reports: list[CredentialReport] = []
    for expiry in expiries:
        threshold = threshold_for(expiry.expires_on, now)
        left = days_left(expiry.expires_on, now) if expiry.expires_on else None
        delivered: list[str] = []
        failed: list[str] = []
        if threshold is not None and notify and expiry.ident not in retiring:
            delivered, failed = await _alert_one(expiry, threshold, now, store, channels)
        reports.append(CredentialReport(expiry, left, threshold, tuple(delivered), tuple(failed)))
    alerted = sum(1 for r in reports if r.alerted)
    logger.info("server %s: checked %d credential(s), %d alerted, %d source(s) unreadable",
                server.name, len(reports), alerted, len(problems))
    return ServerExpiryReport(server.name, tuple(reports), tuple(problems))
