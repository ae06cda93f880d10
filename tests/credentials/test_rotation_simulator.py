"""Rotation end to end: the Graph simulator's application endpoints, the fake vault, the fake token endpoint.

The token endpoint accepts exactly the secrets the simulator's app registration holds, so "the old
secret still works" is checked against the same tenant state the rotation changed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest

from devhost.services import Simulator
from shared.credentials.graph_admin import GraphAdminClient
from shared.credentials.providers import GRAPH_SCOPE, ProviderOptions, build_credential
from shared.credentials.rotation import Outcome, RotationPolicy, Rotator, Step, token_prover
from shared.credentials.vault import KEY_ID_TAG
from shared.domain.config import ServerConfig
from shared.state.memory import InMemoryStateStore
from tests.credentials.conftest import SECRET_NAME, Clock, SimApp, add_sim_app, add_sim_fault, make_server
from tests.credentials.fakes import VAULT_URL, FakeTenant, simulator_secret_check
from tests.credentials.test_expiry_alerts import Recorder


class World:
    def __init__(self, sim: Simulator, app: SimApp, server: ServerConfig, rotator: Rotator,
                 options: ProviderOptions) -> None:
        self.sim, self.app, self.server, self.rotator, self.options = sim, app, server, rotator, options

    async def passwords(self) -> dict[str, str]:
        """keyId -> secretText of the simulator's application."""
        async with httpx.AsyncClient() as client:
            apps = (await client.get(f"{self.sim.base_url}/_sim/applications")).json()
        app = next(a for a in apps if a["appId"] == self.app.app_id)
        return {c["keyId"]: c["secretText"] for c in app["passwordCredentials"]}

    async def token_works(self) -> bool:
        async with build_credential(self.server, self.options) as credential:
            return bool((await credential.get_token(GRAPH_SCOPE)).token)


@pytest.fixture
async def world(graph_sim: Simulator, tenant: FakeTenant, options: ProviderOptions, vaults: Callable[[str], Any],
                clock: Clock) -> AsyncIterator[World]:
    app = await add_sim_app(graph_sim, clock() + timedelta(days=20))
    tenant.check_secret = simulator_secret_check(graph_sim.base_url)
    tenant.put_secret(SECRET_NAME, app.secret, expires_on=clock() + timedelta(days=20), tags={KEY_ID_TAG: app.key_id})
    server = make_server(client_id=app.app_id, graph_base_url=f"{graph_sim.base_url}/v1.0")
    credential = build_credential(server, options)
    graph = GraphAdminClient(server.graph_base_url, credential)
    rotator = Rotator(server, vaults(VAULT_URL), graph, token_prover(server, options), InMemoryStateStore(), clock,
                      [Recorder("log"), Recorder("email")], RotationPolicy(proof_attempts=2, proof_delay_seconds=0))
    try:
        yield World(graph_sim, app, server, rotator, options)
    finally:
        await graph.aclose()
        await credential.close()


async def test_rotation_against_the_simulator(world: World, tenant: FakeTenant, clock: Clock) -> None:
    rotated = await world.rotator.run()
    assert rotated.outcome is Outcome.ROTATED and rotated.old_key_id == world.app.key_id
    passwords = await world.passwords()
    assert set(passwords) == {world.app.key_id, rotated.new_key_id}
    assert tenant.current(SECRET_NAME).value == passwords[rotated.new_key_id]
    assert await world.token_works()

    clock.advance(days=2)
    assert (await world.rotator.run()).outcome is Outcome.OLD_REMOVED
    assert set(await world.passwords()) == {rotated.new_key_id}
    assert await world.token_works()


async def test_add_password_refused(world: World, tenant: FakeTenant) -> None:
    await add_sim_fault(world.sim, f"{world.app.object_id}/addPassword", 403)
    result = await world.rotator.run()
    assert (result.outcome, result.step) == (Outcome.FAILED, Step.ADD_PASSWORD)
    assert await world.passwords() == {world.app.key_id: world.app.secret}
    assert tenant.current(SECRET_NAME).value == world.app.secret and await world.token_works()


async def test_vault_write_refused(world: World, tenant: FakeTenant) -> None:
    tenant.vault_faults[("PUT", SECRET_NAME)] = 403
    result = await world.rotator.run()
    assert (result.outcome, result.step) == (Outcome.FAILED, Step.STORE)
    assert await world.passwords() == {world.app.key_id: world.app.secret}  # the new password was removed
    assert tenant.current(SECRET_NAME).value == world.app.secret and await world.token_works()


async def test_remove_password_refused_then_retried(world: World, tenant: FakeTenant, clock: Clock) -> None:
    rotated = await world.rotator.run()
    clock.advance(days=2)
    await add_sim_fault(world.sim, f"{world.app.object_id}/removePassword", 400)
    failed = await world.rotator.run()
    assert (failed.outcome, failed.step) == (Outcome.FAILED, Step.REMOVE_OLD)
    assert set(await world.passwords()) == {world.app.key_id, rotated.new_key_id}
    assert await world.token_works()
    assert (await world.rotator.run()).outcome is Outcome.OLD_REMOVED
