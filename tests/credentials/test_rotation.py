"""Secret rotation: success with overlap, and failure at each step leaving the old secret working."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from shared.credentials.graph_admin import InMemoryGraphAdmin
from shared.credentials.providers import GRAPH_SCOPE, ProviderOptions, build_credential
from shared.credentials.rotation import (
    ROTATION_KIND,
    Outcome,
    RotationPolicy,
    Rotator,
    Step,
    current_key_id,
    token_prover,
)
from shared.credentials.vault import KEY_ID_TAG
from shared.domain.config import EnvironmentCredential, ServerConfig
from shared.errors import RemoteError
from shared.state.memory import InMemoryStateStore
from tests.credentials.conftest import APP_ID, SECRET_NAME, Clock, make_server
from tests.credentials.fakes import VAULT_URL, FakeTenant
from tests.credentials.test_expiry_alerts import Recorder


async def _no_sleep(_: float) -> None:
    return None


class Setup:
    def __init__(self, rotator: Rotator, old_secret: str, old_key: str, object_id: str,
                 channels: list[Recorder]) -> None:
        self.rotator, self.old_secret, self.old_key, self.object_id = rotator, old_secret, old_key, object_id
        self.log, self.email = channels


@pytest.fixture
async def setup(server: ServerConfig, options: ProviderOptions, vaults: Callable[[str], Any], tenant: FakeTenant,
                graph_twin: InMemoryGraphAdmin, clock: Clock) -> Setup:
    app = graph_twin.add_app(APP_ID)
    old = await graph_twin.add_password(app.object_id, "exsync", clock() + timedelta(days=20))
    tenant.put_secret(SECRET_NAME, old.secret_text, expires_on=old.end, tags={KEY_ID_TAG: old.key_id})
    channels = [Recorder("log"), Recorder("email")]
    rotator = Rotator(server, vaults(VAULT_URL), graph_twin, token_prover(server, options), InMemoryStateStore(),
                      clock, list(channels), RotationPolicy(proof_attempts=2, proof_delay_seconds=0), _no_sleep)
    return Setup(rotator, old.secret_text, old.key_id, app.object_id, channels)


async def _token_works(server: ServerConfig, options: ProviderOptions) -> bool:
    async with build_credential(server, options) as credential:
        return bool((await credential.get_token(GRAPH_SCOPE)).token)


def _password_ids(graph: InMemoryGraphAdmin, object_id: str) -> list[str]:
    return [p.key_id for p in graph.apps[object_id].passwords()]


async def _assert_old_secret_in_place(setup: Setup, tenant: FakeTenant, graph: InMemoryGraphAdmin,
                                      server: ServerConfig, options: ProviderOptions) -> None:
    assert tenant.current(SECRET_NAME).value == setup.old_secret
    assert _password_ids(graph, setup.object_id) == [setup.old_key]
    assert await _token_works(server, options)
    assert [n.level for n in setup.email.sent] == [logging.ERROR]


async def test_not_due_while_far_from_expiry(setup: Setup, clock: Clock) -> None:
    setup.rotator.policy = RotationPolicy(lead_days=10)
    result = await setup.rotator.run()
    assert result.outcome is Outcome.NOT_DUE


async def test_rotation_success_keeps_the_old_secret_for_the_overlap(
        setup: Setup, tenant: FakeTenant, graph_twin: InMemoryGraphAdmin, server: ServerConfig,
        options: ProviderOptions, clock: Clock) -> None:
    result = await setup.rotator.run()
    assert result.outcome is Outcome.ROTATED and result.old_key_id == setup.old_key
    current = tenant.current(SECRET_NAME)
    assert current.value != setup.old_secret and current.tags[KEY_ID_TAG] == result.new_key_id
    assert current.exp is not None and current.exp > (clock() + timedelta(days=170)).timestamp()
    assert set(_password_ids(graph_twin, setup.object_id)) == {setup.old_key, result.new_key_id}
    assert graph_twin.check_secret(APP_ID, setup.old_secret) == "ok"  # overlap: both work
    assert await _token_works(server, options)

    clock.advance(hours=1)
    assert (await setup.rotator.run()).outcome is Outcome.NOT_DUE
    assert graph_twin.check_secret(APP_ID, setup.old_secret) == "ok"

    clock.advance(days=1)
    done = await setup.rotator.run()
    assert done.outcome is Outcome.OLD_REMOVED
    assert _password_ids(graph_twin, setup.object_id) == [result.new_key_id]
    assert graph_twin.check_secret(APP_ID, setup.old_secret) == "invalid"
    assert await _token_works(server, options)
    assert await setup.rotator.store.get_doc(ROTATION_KIND, server.name) is None
    assert setup.email.sent == []  # success is logged, not mailed


async def test_add_password_failure(setup: Setup, tenant: FakeTenant, graph_twin: InMemoryGraphAdmin,
                                    server: ServerConfig, options: ProviderOptions) -> None:
    graph_twin.fail_next["add_password"] = RemoteError("forbidden", status=403, code="Authorization_RequestDenied")
    result = await setup.rotator.run()
    assert (result.outcome, result.step) == (Outcome.FAILED, Step.ADD_PASSWORD)
    await _assert_old_secret_in_place(setup, tenant, graph_twin, server, options)


async def test_proof_failure_discards_the_new_password(setup: Setup, tenant: FakeTenant,
                                                       graph_twin: InMemoryGraphAdmin, server: ServerConfig,
                                                       options: ProviderOptions) -> None:
    old = setup.old_secret
    tenant.check_secret = lambda app_id, secret: "ok" if secret == old else "invalid"
    result = await setup.rotator.run()
    assert (result.outcome, result.step) == (Outcome.FAILED, Step.PROVE)
    await _assert_old_secret_in_place(setup, tenant, graph_twin, server, options)


async def test_vault_write_failure_discards_the_new_password(setup: Setup, tenant: FakeTenant,
                                                             graph_twin: InMemoryGraphAdmin, server: ServerConfig,
                                                             options: ProviderOptions) -> None:
    tenant.vault_faults[("PUT", SECRET_NAME)] = 403  # no "Secrets Officer" role
    result = await setup.rotator.run()
    assert (result.outcome, result.step) == (Outcome.FAILED, Step.STORE)
    await _assert_old_secret_in_place(setup, tenant, graph_twin, server, options)


async def test_remove_old_failure_is_retried_and_both_secrets_keep_working(
        setup: Setup, tenant: FakeTenant, graph_twin: InMemoryGraphAdmin, server: ServerConfig,
        options: ProviderOptions, clock: Clock) -> None:
    rotated = await setup.rotator.run()
    clock.advance(days=2)
    graph_twin.fail_next["remove_password"] = RemoteError("busy", status=400, code="Request_BadRequest")
    failed = await setup.rotator.run()
    assert (failed.outcome, failed.step) == (Outcome.FAILED, Step.REMOVE_OLD)
    assert graph_twin.check_secret(APP_ID, setup.old_secret) == "ok"
    assert tenant.current(SECRET_NAME).tags[KEY_ID_TAG] == rotated.new_key_id
    assert await _token_works(server, options)
    assert (await setup.rotator.run()).outcome is Outcome.OLD_REMOVED


async def test_removal_waits_when_the_current_secret_fails_its_check(
        setup: Setup, tenant: FakeTenant, graph_twin: InMemoryGraphAdmin, clock: Clock) -> None:
    await setup.rotator.run()
    clock.advance(days=2)
    old = setup.old_secret
    tenant.check_secret = lambda app_id, secret: "ok" if secret == old else "invalid"
    result = await setup.rotator.run()
    assert (result.outcome, result.step) == (Outcome.FAILED, Step.REMOVE_OLD)
    assert setup.old_key in _password_ids(graph_twin, setup.object_id)


async def test_removal_refuses_when_the_vault_changed_meanwhile(
        setup: Setup, tenant: FakeTenant, graph_twin: InMemoryGraphAdmin, clock: Clock) -> None:
    await setup.rotator.run()
    tenant.put_secret(SECRET_NAME, setup.old_secret)  # someone put the old secret back by hand
    clock.advance(days=2)
    result = await setup.rotator.run()
    assert (result.outcome, result.step) == (Outcome.FAILED, Step.REMOVE_OLD)
    assert setup.old_key in _password_ids(graph_twin, setup.object_id)


async def test_a_crash_after_add_password_is_cleaned_up(setup: Setup, graph_twin: InMemoryGraphAdmin,
                                                        server: ServerConfig, clock: Clock) -> None:
    orphan = await graph_twin.add_password(setup.object_id, "exsync (rotated)", clock() + timedelta(days=180))
    await setup.rotator.store.put_doc(ROTATION_KIND, server.name, {
        "state": "added", "new_key_id": orphan.key_id, "object_id": setup.object_id})
    result = await setup.rotator.run()
    assert result.outcome is Outcome.ROTATED
    assert orphan.key_id not in _password_ids(graph_twin, setup.object_id)


async def test_forced_rotation_and_not_applicable(setup: Setup, options: ProviderOptions, clock: Clock) -> None:
    setup.rotator.policy = RotationPolicy(lead_days=1, proof_delay_seconds=0)
    assert (await setup.rotator.run(force=True)).outcome is Outcome.ROTATED
    other = Rotator(make_server(EnvironmentCredential()), setup.rotator.vault, setup.rotator.graph,
                    setup.rotator.prove, InMemoryStateStore(), clock)
    assert (await other.run()).outcome is Outcome.NOT_APPLICABLE


async def test_old_key_found_by_hint_without_a_tag(graph_twin: InMemoryGraphAdmin, clock: Clock) -> None:
    from shared.credentials.vault import SecretVersion

    app = graph_twin.add_app(APP_ID)
    mine = await graph_twin.add_password(app.object_id, "exsync", clock() + timedelta(days=5))
    app = await graph_twin.get_application(APP_ID)
    assert current_key_id(SecretVersion(SECRET_NAME, "v1", mine.secret_text), app) == mine.key_id
    assert current_key_id(SecretVersion(SECRET_NAME, "v1", "zzz-unknown"), app) is None
