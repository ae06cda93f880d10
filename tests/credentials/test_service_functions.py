"""The wiring: CredentialServices (daily run, report, server test) and the credentials blueprint."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import Any

import azure.functions as func
import pytest
from azure.functions.timer import TimerRequest

from devhost.services import Simulator
from functions import credentials as blueprint
from functions._runtime import use_runtime
from shared.admin.queue import MemorySyncQueue
from shared.credentials.alerts import EVENT, AlertConfig
from shared.credentials.graph_admin import InMemoryGraphAdmin
from shared.credentials.providers import ProviderOptions
from shared.credentials.rotation import RotationPolicy
from shared.credentials.service import CredentialServices, use_provider_options
from shared.credentials.vault import KEY_ID_TAG
from shared.domain.config import Mailbox, SyncPolicy
from shared.runtime import Runtime
from shared.settings import Settings
from shared.state.memory import InMemoryStateStore
from tests.credentials.conftest import APP_ID, SECRET_NAME, Clock, add_sim_app, make_server
from tests.credentials.fakes import FakeTenant, simulator_secret_check

ADMIN = "admin@contoso.test"


class RuntimeClock:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def now(self) -> datetime:
        return self._clock()


@pytest.fixture
async def arranged(tenant: FakeTenant, graph_twin: InMemoryGraphAdmin, clock: Clock) -> str:
    app = graph_twin.add_app(APP_ID)
    old = await graph_twin.add_password(app.object_id, "exsync", clock() + timedelta(days=20, hours=12))
    tenant.put_secret(SECRET_NAME, old.secret_text, expires_on=old.end, tags={KEY_ID_TAG: old.key_id})
    tenant.roles = ["Mail.Send"]
    return old.key_id


@pytest.fixture
async def services(options: ProviderOptions, graph_twin: InMemoryGraphAdmin, clock: Clock,
                   arranged: str) -> CredentialServices:
    state = InMemoryStateStore()
    await state.put_server(make_server())
    await state.put_server(make_server().model_copy(update={"name": "inactive", "is_active": False}))
    return CredentialServices(state, options, AlertConfig((ADMIN,), ADMIN), rotation_enabled=True,
                              rotation_policy=RotationPolicy(proof_delay_seconds=0), clock=clock,
                              graph_factory=lambda server, credential: graph_twin)


async def test_daily_run_rotates_then_alerts_only_what_still_matters(
        services: CredentialServices, graph_twin: InMemoryGraphAdmin, tenant: FakeTenant, arranged: str) -> None:
    result = await services.check_all()
    [server] = result["servers"]
    assert server["rotation"]["outcome"] == "rotated"
    by_source = {c["source"]: c for c in server["credentials"] if c["id"] != arranged}
    assert by_source["key_vault"]["days_left"] >= 179 and by_source["key_vault"]["threshold"] is None
    retiring = next(c for c in server["credentials"] if c["id"] == arranged)
    assert retiring["threshold"] == 30 and retiring["alerted"] == []  # replaced: reported, not alerted
    assert graph_twin.sent == []


async def test_report_only_neither_rotates_nor_alerts(services: CredentialServices, graph_twin: InMemoryGraphAdmin,
                                                      tenant: FakeTenant, arranged: str) -> None:
    result = await services.check_all(notify=False)
    [server] = result["servers"]
    assert "rotation" not in server
    assert {c["threshold"] for c in server["credentials"]} == {30}
    assert all(c["alerted"] == [] for c in server["credentials"])
    assert tenant.current(SECRET_NAME).tags[KEY_ID_TAG] == arranged and graph_twin.sent == []


async def test_without_rotation_the_alert_is_mailed(services: CredentialServices,
                                                    graph_twin: InMemoryGraphAdmin) -> None:
    services.rotation_enabled = False
    await services.check_all()
    assert len(graph_twin.sent) == 2 and all("20 day(s)" in m["subject"] for m in graph_twin.sent)
    await services.check_all()
    assert len(graph_twin.sent) == 2  # once per threshold


async def test_one_failing_server_does_not_hide_the_others(services: CredentialServices, tenant: FakeTenant) -> None:
    await services.state.put_server(make_server().model_copy(update={"name": "broken", "client_id": ""}))
    result = await services.check_all(notify=False)
    names = {s["server"]: s for s in result["servers"]}
    assert "error" in names["broken"] and "credentials" in names["contoso"]


async def test_server_test_reports_findings(services: CredentialServices, graph_twin: InMemoryGraphAdmin) -> None:
    await services.state.put_policy(SyncPolicy(name="default"))
    graph_twin.add_mailbox("ann@contoso.test")
    report = await services.server_test(make_server(), [Mailbox(email="ann@contoso.test", server="contoso",
                                                                employee_id="E1")])
    assert report["server"] == "contoso" and report["ok"] is False  # most permissions are missing
    checks = {f["check"]: f for f in report["findings"]}
    assert checks["token"]["status"] == "ok" and checks["permissions"]["status"] == "error"


# ---------------------------------------------------------------- the blueprint


def _functions() -> dict[str, Callable[..., Any]]:
    app = func.FunctionApp()
    app.register_functions(blueprint.bp)
    return {fn.get_function_name(): fn.get_user_function() for fn in app.get_functions()}


@pytest.fixture
async def runtime(options: ProviderOptions, clock: Clock, graph_sim: Simulator,
                  tenant: FakeTenant) -> AsyncIterator[Runtime]:
    app = await add_sim_app(graph_sim, clock() + timedelta(days=20, hours=12))
    tenant.check_secret = simulator_secret_check(graph_sim.base_url)
    tenant.put_secret(SECRET_NAME, app.secret, expires_on=clock() + timedelta(days=20, hours=12),
                      tags={KEY_ID_TAG: app.key_id})
    state = InMemoryStateStore()
    await state.put_server(make_server(client_id=app.app_id, graph_base_url=f"{graph_sim.base_url}/v1.0"))

    async def unused(*args: Any) -> Any:
        raise AssertionError("not used by the credential functions")

    settings = Settings.from_env({"EXSYNC_ALERT_EMAILS": ADMIN, "EXSYNC_ALERT_SENDER": ADMIN})
    rt = Runtime(settings=settings, state=state, queue=MemorySyncQueue(), mailbox_gateway=unused,
                 erp_gateway=unused, clock=RuntimeClock(clock))
    use_runtime(rt)
    use_provider_options(options)
    try:
        yield rt
    finally:
        use_runtime(None)
        use_provider_options(None)


async def test_expiry_route_reports_days_left(runtime: Runtime) -> None:
    handler = _functions()["credential_expiry"]
    request = func.HttpRequest("GET", "/api/credentials/expiry", params={"notify": "false"}, body=b"")
    response = await handler(request)
    assert response.status_code == 200
    body = json.loads(response.get_body())
    [server] = body["servers"]
    assert server["problems"] == []
    assert {c["source"] for c in server["credentials"]} == {"key_vault", "app_registration"}
    assert all(c["days_left"] == 20 and c["threshold"] == 30 and c["alerted"] == [] for c in server["credentials"])


async def test_daily_timer_alerts_through_the_log_and_graph_mail(runtime: Runtime, graph_sim: Simulator,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    await _functions()["credential_check"](TimerRequest(past_due=False, schedule_status={}, schedule={}))
    records = [r for r in caplog.records if getattr(r, "event", None) == EVENT]
    assert records and all(r.levelno == logging.WARNING for r in records)
    import httpx

    async with httpx.AsyncClient() as client:
        inbox = (await client.get(f"{graph_sim.base_url}/v1.0/users/{ADMIN}/mailFolders/inbox/messages",
                                  headers={"Authorization": "Bearer x.e30.x"})).json()["value"]
    subjects = [m["subject"] for m in inbox if "expires in 20 day(s)" in m["subject"]]
    assert len(subjects) == 2  # the Key Vault secret and the app registration's password


async def test_expiry_route_explains_a_broken_setup(monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.errors import ConfigurationError

    async def broken() -> Runtime:
        raise ConfigurationError("no state store configured: set EXSYNC_STATE_TABLE_ENDPOINT")

    monkeypatch.setattr(blueprint, "get_runtime", broken)
    response = await _functions()["credential_expiry"](func.HttpRequest("GET", "/api/credentials/expiry", body=b""))
    assert response.status_code == 500
    assert "EXSYNC_STATE_TABLE_ENDPOINT" in json.loads(response.get_body())["message"]
