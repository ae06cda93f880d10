"""No secret value reaches any log record, at any level (DEBUG included), whatever the path."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from devhost.services import Simulator
from shared.credentials.alerts import AlertConfig, check_server_expiry
from shared.credentials.doctor import review_server
from shared.credentials.graph_admin import InMemoryGraphAdmin
from shared.credentials.providers import GRAPH_SCOPE, ProviderOptions, build_credential
from shared.credentials.rotation import Outcome, RotationPolicy, Rotator, token_prover
from shared.credentials.vault import KEY_ID_TAG
from shared.domain.config import EnvironmentCredential, Mailbox, SyncPolicy
from shared.errors import AuthenticationFailed
from shared.state.memory import InMemoryStateStore
from tests.credentials.conftest import ANN, APP_ID, SECRET_NAME, Clock, make_server
from tests.credentials.fakes import VAULT_URL, FakeTenant

SENTINEL = "SENTINEL-s3cr3t-7f1e9c2b-do-not-log"
WEBHOOK_TOKEN = "WEBHOOKTOKEN-91c0d2"


@pytest.fixture
async def webhook_url() -> AsyncIterator[str]:
    async def hook(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=500)  # a failing channel logs its failure: without the URL

    app = web.Application()
    app.router.add_post("/hook/{token}", hook)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield str(server.make_url(f"/hook/{WEBHOOK_TOKEN}"))
    await server.close()


def _leaks(records: list[logging.LogRecord], secrets: list[str]) -> list[str]:
    formatter = logging.Formatter("%(message)s")
    found = []
    for record in records:
        if record.name.startswith("aiohttp."):  # the fake servers' own access log, not exsync's
            continue
        text = formatter.format(record) + repr(record.__dict__)
        found += [f"{record.name}:{record.levelname}: {s[:12]}…" for s in secrets if s in text]
    return found


async def test_no_secret_in_any_log_record(options: ProviderOptions, tenant: FakeTenant,
                                           graph_twin: InMemoryGraphAdmin, clock: Clock,
                                           vaults: Callable[[str], Any], webhook_url: str,
                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    logging.getLogger("azure").setLevel(logging.DEBUG)
    app = graph_twin.add_app(APP_ID)
    old = await graph_twin.add_password(app.object_id, "exsync", clock() + timedelta(days=5))
    graph_twin.secret_texts[old.key_id] = SENTINEL
    tenant.put_secret(SECRET_NAME, SENTINEL, expires_on=old.end, tags={KEY_ID_TAG: old.key_id})
    graph_twin.add_mailbox("ann@contoso.test", categories=["ERP"])
    server = make_server()
    store = InMemoryStateStore()
    alerts = AlertConfig(("admin@contoso.test",), "alerts@contoso.test", webhook_url)
    channels = alerts.channels(graph_twin)

    # token, alert on every channel, review
    async with build_credential(server, options) as credential:
        await credential.get_token(GRAPH_SCOPE)
        report = await check_server_expiry(server, vaults=vaults, graph=graph_twin, store=store, channels=channels,
                                           clock=clock)
        assert {c.threshold for c in report.credentials} == {7}
        await review_server(server, credential=credential, graph=graph_twin,
                            mailboxes=[Mailbox(email="ann@contoso.test", server="contoso", employee_id="E1")],
                            policies={"default": SyncPolicy(name="default")}, store=store, vaults=vaults,
                            clock=clock)

    # rotation, failing once at the proof (the new secret is logged nowhere either), then succeeding
    rotator = Rotator(server, vaults(VAULT_URL), graph_twin, token_prover(server, options), store, clock,
                      channels, RotationPolicy(proof_attempts=1, proof_delay_seconds=0))
    tenant.check_secret = lambda app_id, secret: "ok" if secret == SENTINEL else "invalid"
    assert (await rotator.run()).outcome is Outcome.FAILED
    tenant.check_secret = graph_twin.check_secret
    rotated = await rotator.run()
    assert rotated.outcome is Outcome.ROTATED
    new_secret = tenant.current(SECRET_NAME).value

    # an expired secret, and an environment secret that is wrong
    clock.advance(days=400)
    async with build_credential(server, options) as credential:
        with pytest.raises(AuthenticationFailed):
            await credential.get_token(GRAPH_SCOPE)
    env_server = make_server(EnvironmentCredential(secret_setting="S"))
    env_options = ProviderOptions(**{**options.__dict__, "environ": {"S": SENTINEL}})
    async with build_credential(env_server, env_options) as credential:
        with pytest.raises(AuthenticationFailed):
            await credential.get_token(GRAPH_SCOPE)

    assert len(caplog.records) > 20  # the paths above did log
    assert any(r.levelno >= logging.WARNING for r in caplog.records)
    assert _leaks(caplog.records, [SENTINEL, new_secret, WEBHOOK_TOKEN]) == []


async def test_no_secret_in_any_log_record_of_a_sync(options: ProviderOptions, tenant: FakeTenant,
                                                     graph_twin: InMemoryGraphAdmin, clock: Clock,
                                                     graph_sim: Simulator, caplog: pytest.LogCaptureFixture) -> None:
    """A contacts sync through the real Graph gateway whose token comes from the sentinel secret."""
    from shared.domain.records import Contact, RecordType
    from shared.erp.memory import InMemoryErpGateway
    from shared.graph.gateway import GraphMailboxGateway
    from shared.graph.memory import TickingClock
    from tests.engine import sync_mailbox

    caplog.set_level(logging.DEBUG)
    app = graph_twin.add_app(APP_ID)
    key = await graph_twin.add_password(app.object_id, "exsync", clock() + timedelta(days=5))
    graph_twin.secret_texts[key.key_id] = SENTINEL
    tenant.put_secret(SECRET_NAME, SENTINEL, expires_on=key.end)
    server = make_server(graph_base_url=f"{graph_sim.base_url}/v1.0", logging_level="verbose")
    mailbox = Mailbox(email=ANN, server="contoso", employee_id="EP1")
    policy = SyncPolicy(name="default")
    ticking = TickingClock()
    erp = InMemoryErpGateway(ticking)
    erp.user_create(RecordType.CONTACT, Contact(first_name="Bo", last_name="Li", email="bo@example.test"),
                    owner="EP1")
    async with build_credential(server, options) as credential:
        gateway = GraphMailboxGateway.create(credential, server.graph_base_url)
        try:
            summary = await sync_mailbox(mailbox=mailbox, server=server, policy=policy, mailbox_gateway=gateway,
                                         erp_gateway=erp, state=InMemoryStateStore(ticking), clock=ticking,
                                         run_id="sentinel-run", record_types=[RecordType.CONTACT])
        finally:
            await gateway.aclose()
    assert summary.counts["contact.mailbox"].created == 1, summary
    assert tenant.token_requests  # the sync's token did come from the sentinel secret
    assert len(caplog.records) > 5
    assert _leaks(caplog.records, [SENTINEL]) == []
