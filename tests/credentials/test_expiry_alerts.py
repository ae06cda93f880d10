"""Expiry thresholds, once-only alerting per channel, and the alert channels."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from shared.credentials.alerts import (
    EVENT,
    AlertChannel,
    AlertConfig,
    EmailChannel,
    LogChannel,
    Notice,
    WebhookChannel,
    check_server_expiry,
)
from shared.credentials.expiry import EXPIRED, THRESHOLDS, Source, threshold_for
from shared.credentials.graph_admin import InMemoryGraphAdmin
from shared.domain.config import ServerConfig
from shared.errors import RemoteError
from shared.state.memory import InMemoryStateStore
from tests.credentials.conftest import APP_ID, SECRET_NAME, Clock
from tests.credentials.fakes import FakeTenant


class Recorder:
    """An alert channel that records what it is asked to send and can be told to fail."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.sent: list[Notice] = []
        self.failures = 0

    async def send(self, notice: Notice) -> None:
        if self.failures:
            self.failures -= 1
            raise RemoteError("channel down", status=503)
        self.sent.append(notice)


@pytest.mark.parametrize(("left", "expected"), [
    (timedelta(days=90), None), (timedelta(days=61), None), (timedelta(days=60, hours=1), 60),
    (timedelta(days=31), 60), (timedelta(days=30, hours=23), 30), (timedelta(days=15), 30),
    (timedelta(days=14), 14), (timedelta(days=8), 14), (timedelta(days=7, hours=12), 7),
    (timedelta(days=2), 7), (timedelta(days=1, hours=23), 1), (timedelta(hours=3), 1),
    (timedelta(seconds=0), EXPIRED), (timedelta(days=-30), EXPIRED)])
def test_threshold_for(left: timedelta, expected: int | None, clock: Clock) -> None:
    assert threshold_for(clock() + left, clock()) == expected


def test_no_end_date_has_no_threshold(clock: Clock) -> None:
    assert threshold_for(None, clock()) is None


@pytest.fixture
def store(clock: Clock) -> InMemoryStateStore:
    return InMemoryStateStore()


async def _arrange(tenant: FakeTenant, graph: InMemoryGraphAdmin, clock: Clock, days: float) -> None:
    end = clock() + timedelta(days=days)
    tenant.put_secret(SECRET_NAME, "s3cret", expires_on=end)
    app = graph.add_app(APP_ID)
    await graph.add_password(app.object_id, "exsync", end)


async def test_every_threshold_alerts_once_per_credential(
        server: ServerConfig, vaults: Callable[[str], Any], tenant: FakeTenant, graph_twin: InMemoryGraphAdmin,
        clock: Clock, store: InMemoryStateStore) -> None:
    await _arrange(tenant, graph_twin, clock, days=65.5)
    channel = Recorder("email")
    for _ in range(70):  # the daily timer, from 65 days before the end to 4 days after it
        await check_server_expiry(server, vaults=vaults, graph=graph_twin, store=store, channels=[channel],
                                  clock=clock)
        clock.advance(days=1)
    for source in (Source.KEY_VAULT, Source.APP_REGISTRATION):
        thresholds = [n.fields["threshold"] for n in channel.sent
                      if n.fields["credential_source"] == source.value]
        assert thresholds == [*THRESHOLDS, EXPIRED]


async def test_first_check_inside_a_threshold_alerts_only_the_current_one(
        server: ServerConfig, vaults: Callable[[str], Any], tenant: FakeTenant, graph_twin: InMemoryGraphAdmin,
        clock: Clock, store: InMemoryStateStore) -> None:
    await _arrange(tenant, graph_twin, clock, days=5.5)
    channel = Recorder("log")
    report = await check_server_expiry(server, vaults=vaults, graph=graph_twin, store=store, channels=[channel],
                                       clock=clock)
    assert [n.fields["threshold"] for n in channel.sent] == [7, 7]
    assert {c.days_left for c in report.credentials} == {5}
    clock.advance(days=1)
    await check_server_expiry(server, vaults=vaults, graph=graph_twin, store=store, channels=[channel],
                              clock=clock)
    assert len(channel.sent) == 2


async def test_a_failed_channel_is_retried_next_run_and_others_are_not_repeated(
        server: ServerConfig, vaults: Callable[[str], Any], tenant: FakeTenant, graph_twin: InMemoryGraphAdmin,
        clock: Clock, store: InMemoryStateStore) -> None:
    await _arrange(tenant, graph_twin, clock, days=20)
    log, mail = Recorder("log"), Recorder("email")
    mail.failures = 2  # both credentials' mails fail on the first run
    channels: list[AlertChannel] = [log, mail]
    first = await check_server_expiry(server, vaults=vaults, graph=graph_twin, store=store, channels=channels,
                                      clock=clock)
    assert all(c.failed == ("email",) and c.alerted == ("log",) for c in first.credentials)
    clock.advance(days=1)
    await check_server_expiry(server, vaults=vaults, graph=graph_twin, store=store, channels=channels,
                              clock=clock)
    assert len(log.sent) == 2 and len(mail.sent) == 2


async def test_a_new_end_date_starts_over(server: ServerConfig, vaults: Callable[[str], Any], tenant: FakeTenant,
                                          graph_twin: InMemoryGraphAdmin, clock: Clock,
                                          store: InMemoryStateStore) -> None:
    await _arrange(tenant, graph_twin, clock, days=10)
    channel = Recorder("log")
    await check_server_expiry(server, vaults=vaults, graph=None, store=store, channels=[channel], clock=clock)
    tenant.put_secret(SECRET_NAME, "n3w", expires_on=clock() + timedelta(days=50))
    await check_server_expiry(server, vaults=vaults, graph=None, store=store, channels=[channel], clock=clock)
    assert [n.fields["threshold"] for n in channel.sent] == [14, 60]


async def test_report_only_sends_nothing(server: ServerConfig, vaults: Callable[[str], Any], tenant: FakeTenant,
                                         graph_twin: InMemoryGraphAdmin, clock: Clock,
                                         store: InMemoryStateStore) -> None:
    await _arrange(tenant, graph_twin, clock, days=3.5)
    channel = Recorder("log")
    report = await check_server_expiry(server, vaults=vaults, graph=graph_twin, store=store, channels=[channel],
                                       clock=clock, notify=False)
    assert channel.sent == [] and {c.threshold for c in report.credentials} == {7}
    assert report.to_json()["credentials"][0]["days_left"] == 3


async def test_unreadable_sources_are_reported_with_a_fix(
        server: ServerConfig, vaults: Callable[[str], Any], tenant: FakeTenant, graph_twin: InMemoryGraphAdmin,
        clock: Clock, store: InMemoryStateStore, caplog: pytest.LogCaptureFixture) -> None:
    graph_twin.fail_next["get_application"] = RemoteError("forbidden", status=403, code="Authorization_RequestDenied")
    report = await check_server_expiry(server, vaults=vaults, graph=graph_twin, store=store, channels=[],
                                       clock=clock)
    unreadable = [r for r in caplog.records if getattr(r, "exsync_event", None) == "credential_expiry"]
    assert len(unreadable) == 2 and all(not hasattr(r, "days_left") for r in unreadable)
    sources = {p.source for p in report.problems}
    assert sources == {Source.KEY_VAULT, Source.APP_REGISTRATION}  # no secret in the vault either
    assert any("Application.Read.All" in p.fix for p in report.problems)


async def test_log_channel_record_is_what_the_alert_rule_matches(
        server: ServerConfig, vaults: Callable[[str], Any], tenant: FakeTenant, graph_twin: InMemoryGraphAdmin,
        clock: Clock, store: InMemoryStateStore, caplog: pytest.LogCaptureFixture) -> None:
    tenant.put_secret(SECRET_NAME, "s3cret", expires_on=clock() + timedelta(days=45))
    caplog.set_level(logging.DEBUG)
    await check_server_expiry(server, vaults=vaults, graph=None, store=store, channels=[LogChannel()], clock=clock)
    tenant.put_secret(SECRET_NAME, "s3cret", expires_on=clock() - timedelta(hours=1))
    await check_server_expiry(server, vaults=vaults, graph=None, store=store, channels=[LogChannel()], clock=clock)
    records = [r for r in caplog.records if getattr(r, "event", None) == EVENT]
    assert [(r.levelno, r.threshold) for r in records] == [(logging.WARNING, 60),  # type: ignore[attr-defined]
                                                          (logging.ERROR, EXPIRED)]
    assert all(r.getMessage().startswith(EVENT) and r.server == "contoso" for r in records)  # type: ignore[attr-defined]
    assert all(r.exsync_event == "credential_expiry" for r in records)  # type: ignore[attr-defined]


async def test_email_channel_sends_through_graph(graph_twin: InMemoryGraphAdmin) -> None:
    notice = Notice(EVENT, logging.ERROR, "subject", "body", {"server": "contoso"})
    await EmailChannel(graph_twin, "alerts@contoso.test", ["admin@contoso.test"]).send(notice)
    assert graph_twin.sent == [{"from": "alerts@contoso.test", "to": ["admin@contoso.test"], "subject": "subject",
                                "body": "body"}]


@pytest.fixture
async def webhook() -> AsyncIterator[tuple[str, list[dict[str, Any]], list[int]]]:
    received: list[dict[str, Any]] = []
    status = [200]

    async def hook(request: web.Request) -> web.Response:
        received.append(json.loads(await request.read()))
        return web.Response(status=status[0], text="1")

    app = web.Application()
    app.router.add_post("/hook/{token}", hook)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield str(server.make_url("/hook/t0k3n")), received, status
    await server.close()


async def test_webhook_channel_posts_teams_and_slack_compatible_json(
        webhook: tuple[str, list[dict[str, Any]], list[int]]) -> None:
    url, received, _ = webhook
    await WebhookChannel(url).send(Notice(EVENT, logging.WARNING, "subject", "text", {"days_left": 30}))
    assert received[0]["text"] == "text" and received[0]["exsync"]["days_left"] == 30


async def test_webhook_failure_is_a_remote_error_without_the_url(
        webhook: tuple[str, list[dict[str, Any]], list[int]]) -> None:
    url, _, status = webhook
    status[0] = 500
    with pytest.raises(RemoteError) as caught:
        await WebhookChannel(url).send(Notice(EVENT, logging.WARNING, "s", "t"))
    assert "t0k3n" not in str(caught.value)


def test_alert_config_builds_the_configured_channels(graph_twin: InMemoryGraphAdmin) -> None:
    assert [c.name for c in AlertConfig().channels(graph_twin)] == ["log"]
    config = AlertConfig(("a@contoso.test",), "alerts@contoso.test", "https://hooks.example/x")
    assert [c.name for c in config.channels(graph_twin)] == ["log", "email", "webhook"]
    assert "hooks.example" not in repr(config)


async def test_pem_certificate_end_date(tmp_path: Any, clock: Clock, store: InMemoryStateStore) -> None:
    from shared.domain.config import CertificateCredential
    from tests.credentials.conftest import make_certificate, make_server

    path = tmp_path / "exsync.pem"
    path.write_bytes(make_certificate(days=20, serial=2)[1])
    server = make_server(CertificateCredential(pem_path=str(path)))
    report = await check_server_expiry(server, vaults=None, graph=None, store=store, channels=[], clock=clock)
    [cert] = report.credentials
    assert cert.expiry.source is Source.PEM_FILE and cert.days_left in (19, 20) and cert.threshold == 30
    path.unlink()
    report = await check_server_expiry(server, vaults=None, graph=None, store=store, channels=[], clock=clock)
    assert [p.source for p in report.problems] == [Source.PEM_FILE]
