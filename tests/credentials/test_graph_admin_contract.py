"""One contract for :class:`GraphAdminClient` (against the Graph simulator) and its twin."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from devhost.services import Simulator
from shared.credentials.graph_admin import FolderKind, GraphAdmin, GraphAdminClient, InMemoryGraphAdmin
from shared.errors import NotFound, RemoteError
from tests.credentials.conftest import APP_ID, add_sim_app
from tests.credentials.fakes import StaticCredential, make_jwt

ADMIN = "admin@contoso.test"
ANN = "ann@contoso.test"
FOLDERS = {FolderKind.MAIL: "ERP", FolderKind.CONTACTS: "ERP contacts", FolderKind.TODO: "ERP tasks",
           FolderKind.CALENDARS: "ERP events"}


class Backend:
    """A GraphAdmin plus the means to arrange its tenant and observe delivered mail."""

    def __init__(self, admin: GraphAdmin, sim: Simulator | None, twin: InMemoryGraphAdmin | None) -> None:
        self.admin, self.sim, self.twin = admin, sim, twin
        self.token = make_jwt({"appid": APP_ID, "roles": []})

    async def _post(self, path: str, body: dict[str, object]) -> None:
        assert self.sim is not None
        async with httpx.AsyncClient() as client:
            response = await client.post(f"{self.sim.base_url}/v1.0{path}", json=body,
                                         headers={"Authorization": f"Bearer {self.token}"})
            assert response.status_code < 300, response.text

    async def arrange_mailbox(self, upn: str) -> None:
        if self.twin is not None:
            self.twin.add_mailbox(upn, categories=["ERP"], folders={k: [v] for k, v in FOLDERS.items()})
            return
        await self._post(f"/users/{upn}/outlook/masterCategories", {"displayName": "ERP", "color": "preset7"})
        await self._post(f"/users/{upn}/mailFolders", {"displayName": FOLDERS[FolderKind.MAIL]})
        await self._post(f"/users/{upn}/contactFolders", {"displayName": FOLDERS[FolderKind.CONTACTS]})
        await self._post(f"/users/{upn}/todo/lists", {"displayName": FOLDERS[FolderKind.TODO]})
        await self._post(f"/users/{upn}/calendars", {"name": FOLDERS[FolderKind.CALENDARS]})

    async def arrange_app(self, end: datetime) -> tuple[str, str, str]:
        """A new app registration with one password: (appId, object id, keyId)."""
        if self.twin is not None:
            app = self.twin.add_app(str(uuid.uuid4()))
            new = await self.twin.add_password(app.object_id, "exsync", end)
            return app.app_id, app.object_id, new.key_id
        assert self.sim is not None
        made = await add_sim_app(self.sim, end)
        return made.app_id, made.object_id, made.key_id

    async def inbox_subjects(self, upn: str) -> list[str]:
        if self.twin is not None:
            return [m["subject"] for m in self.twin.sent if upn in m["to"]]
        assert self.sim is not None
        async with httpx.AsyncClient() as client:
            response = await client.get(f"{self.sim.base_url}/v1.0/users/{upn}/mailFolders/inbox/messages",
                                        headers={"Authorization": f"Bearer {self.token}"})
        return [m["subject"] for m in response.json()["value"]]


@pytest.fixture(params=["twin", "simulator"])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    if request.param == "twin":
        twin = InMemoryGraphAdmin()
        twin.add_mailbox(ADMIN)
        yield Backend(twin, None, twin)
        return
    sim: Simulator = request.getfixturevalue("graph_sim")
    async with httpx.AsyncClient() as client:
        await client.post(f"{sim.base_url}/_sim/reset")
    client_ = GraphAdminClient(f"{sim.base_url}/v1.0", StaticCredential(make_jwt({"appid": APP_ID})))
    try:
        yield Backend(client_, sim, None)
    finally:
        await client_.aclose()


async def test_get_user(backend: Backend) -> None:
    await backend.arrange_mailbox(ANN)
    user = await backend.admin.get_user(ANN)
    assert user["id"]
    with pytest.raises(NotFound):
        await backend.admin.get_user("nobody@contoso.test")


async def test_categories_and_folders(backend: Backend) -> None:
    await backend.arrange_mailbox(ANN)
    assert "ERP" in await backend.admin.list_categories(ANN)
    for kind, name in FOLDERS.items():
        assert name in await backend.admin.list_folder_names(ANN, kind), kind


async def test_send_mail(backend: Backend) -> None:
    await backend.arrange_mailbox(ANN)
    subject = f"exsync alert {datetime.now(UTC):%H%M%S%f}"
    await backend.admin.send_mail(ADMIN, [ANN], subject, "text")
    assert subject in await backend.inbox_subjects(ANN)


async def test_read_an_app_registration(backend: Backend) -> None:
    end = datetime(2027, 5, 1, 12, 0, tzinfo=UTC)
    app_id, object_id, key_id = await backend.arrange_app(end)
    app = await backend.admin.get_application(app_id)
    assert (app.app_id, app.object_id) == (app_id, object_id)
    [password] = app.passwords()
    assert (password.key_id, password.end) == (key_id, end)


async def test_unknown_application_is_not_found(backend: Backend) -> None:
    with pytest.raises(NotFound):
        await backend.admin.get_application(str(uuid.uuid4()))


async def test_add_and_remove_password(backend: Backend) -> None:
    app_id, object_id, key_id = await backend.arrange_app(datetime(2027, 5, 1, tzinfo=UTC))
    end = datetime(2028, 1, 1, tzinfo=UTC)
    new = await backend.admin.add_password(object_id, "exsync (rotated)", end)
    assert new.secret_text and new.end == end and new.key_id != key_id
    assert {p.key_id for p in (await backend.admin.get_application(app_id)).passwords()} == {key_id, new.key_id}
    await backend.admin.remove_password(object_id, key_id)
    assert [p.key_id for p in (await backend.admin.get_application(app_id)).passwords()] == [new.key_id]
    with pytest.raises(RemoteError) as caught:
        await backend.admin.remove_password(object_id, key_id)
    assert caught.value.status == 400


def test_end_dates_parse_with_seven_fraction_digits() -> None:
    from shared.credentials.graph_admin import parse_graph_time

    parsed = parse_graph_time("2027-01-02T03:04:05.1234567Z")
    assert parsed == datetime(2027, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
    assert parse_graph_time("2027-01-02T03:04:05Z") == datetime(2027, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert parse_graph_time(None) is None
    assert parse_graph_time("2027-01-02T03:04:05+02:00") == datetime(2027, 1, 2, 1, 4, 5, tzinfo=UTC)
