"""Alert and rotation state in Table Storage (Azurite), and the rotation lease."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import pytest

from shared.credentials.alerts import check_server_expiry
from shared.credentials.graph_admin import InMemoryGraphAdmin
from shared.credentials.providers import ProviderOptions
from shared.credentials.rotation import Outcome, RotationPolicy, Rotator, token_prover
from shared.credentials.service import CredentialServices
from shared.credentials.vault import KEY_ID_TAG
from shared.state.memory import InMemoryStateStore
from shared.state.table import TableStateStore
from tests.credentials.conftest import APP_ID, SECRET_NAME, Clock, make_server
from tests.credentials.fakes import VAULT_URL, FakeTenant
from tests.credentials.test_expiry_alerts import Recorder


@pytest.fixture
async def table(azurite_connection_string: str) -> AsyncIterator[TableStateStore]:
    store = TableStateStore.from_connection_string(azurite_connection_string,
                                                   table_prefix="cr" + uuid.uuid4().hex[:10])
    await store.create_tables()
    try:
        yield store
    finally:
        await store.delete_tables()
        await store.aclose()


@pytest.fixture
async def old_key(tenant: FakeTenant, graph_twin: InMemoryGraphAdmin, clock: Clock) -> str:
    app = graph_twin.add_app(APP_ID)
    old = await graph_twin.add_password(app.object_id, "exsync", clock() + timedelta(days=10, hours=12))
    tenant.put_secret(SECRET_NAME, old.secret_text, expires_on=old.end, tags={KEY_ID_TAG: old.key_id})
    return old.key_id


async def test_once_only_alerting_with_table_storage(table: TableStateStore, vaults: Callable[[str], Any],
                                                     graph_twin: InMemoryGraphAdmin, clock: Clock,
                                                     old_key: str) -> None:
    server = make_server(name="Contoso EU.1")  # a name that needs key escaping
    channel = Recorder("email")
    for _ in range(4):  # 10, 9, 8 and 7 days left
        await check_server_expiry(server, vaults=vaults, graph=graph_twin, store=table, channels=[channel],
                                  clock=clock)
        clock.advance(days=1)
    assert [n.fields["threshold"] for n in channel.sent] == [14, 14, 7, 7]


async def test_rotation_state_in_table_storage(table: TableStateStore, vaults: Callable[[str], Any],
                                               options: ProviderOptions, graph_twin: InMemoryGraphAdmin,
                                               clock: Clock, old_key: str) -> None:
    server = make_server()
    rotator = Rotator(server, vaults(VAULT_URL), graph_twin, token_prover(server, options), table, clock,
                      policy=RotationPolicy(proof_delay_seconds=0))
    assert (await rotator.run()).outcome is Outcome.ROTATED
    clock.advance(days=2)
    assert (await rotator.run()).outcome is Outcome.OLD_REMOVED
    assert old_key not in graph_twin.secret_texts


async def test_a_held_rotation_lease_skips_rotation(options: ProviderOptions, graph_twin: InMemoryGraphAdmin,
                                                    tenant: FakeTenant, clock: Clock, old_key: str) -> None:
    state = InMemoryStateStore()
    await state.put_server(make_server())
    services = CredentialServices(state, options, rotation_enabled=True, clock=clock,
                                  graph_factory=lambda server, credential: graph_twin)
    assert await state.acquire_lease("credential-rotation:contoso", "someone-else", 600)
    [result] = (await services.check_all())["servers"]
    assert result["rotation"]["outcome"] == "skipped"
    assert tenant.current(SECRET_NAME).tags[KEY_ID_TAG] == old_key
