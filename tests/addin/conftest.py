"""The serve stack plus a local token issuer, run on an event loop in a background thread so sync
tests (and Playwright's sync API) can drive it over HTTP. Ann is a synced employee; Bob is a
mailbox of the tenant that exsync does not sync."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import threading
from collections.abc import Awaitable, Coroutine, Iterator
from datetime import datetime
from typing import Any, TypeVar

import httpx
import pytest

from devhost.serve import Stack, running_stack
from devhost.services import free_port
from tests.addin.issuer import CLIENT_ID, TokenIssuer, issuer  # noqa: F401  (a started issuer per test)
from tests.browser.conftest import browser, page  # noqa: F401  (the browser fixtures, for the pane test)

T = TypeVar("T")
ANN = "ann@contoso.test"
BOB = "bob@contoso.test"
ERP_LINKS = "https://erp.contoso.test/"
ENDPOINT = "/entity/Default/24.200.001"


def v(value: object) -> dict[str, object]:
    return {"value": value}


@dataclasses.dataclass
class AddinStack:
    stack: Stack
    issuer: TokenIssuer
    loop: asyncio.AbstractEventLoop
    graph: httpx.Client
    erp: httpx.Client

    @property
    def base(self) -> str:
        return self.stack.host.base_url

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(60)

    def token(self, user: str = ANN, **overrides: Any) -> str:
        return self.issuer.token(user, **overrides)

    def api(self, user: str = ANN) -> httpx.Client:
        return httpx.Client(base_url=f"{self.base}/api/addin", timeout=30,
                            headers={"Authorization": f"Bearer {self.token(user)}"})

    def message(self, user: str, subject: str, sender: tuple[str, str], body: str = "",
                cc: tuple[str, ...] = (), received: datetime | None = None, **extra: Any) -> dict[str, Any]:
        """A received message in ``user``'s inbox (created through Graph v1.0 of the simulator;
        ``received`` sets its delivery time, ``extra`` e.g. a conversationId to make it a reply)."""
        props = [{"id": "Integer 0x0E07", "value": "1"}]
        if received is not None:
            props.append({"id": "SystemTime 0x0E06", "value": received.strftime("%Y-%m-%dT%H:%M:%SZ")})
        r = self.graph.post(f"/v1.0/users/{user}/mailFolders/inbox/messages", json={**extra,
            "subject": subject, "body": {"contentType": "text", "content": body},
            "from": {"emailAddress": {"name": sender[0], "address": sender[1]}},
            "toRecipients": [{"emailAddress": {"address": user}}],
            "ccRecipients": [{"emailAddress": {"address": a}} for a in cc],
            "singleValueExtendedProperties": props})
        assert r.status_code == 201, r.text
        return r.json()  # type: ignore[no-any-return]

    def erp_put(self, entity: str, record: dict[str, Any]) -> dict[str, Any]:
        r = self.erp.put(f"{ENDPOINT}/{entity}", json=record)
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    def erp_list(self, entity: str, **params: str) -> list[dict[str, Any]]:
        r = self.erp.get(f"{ENDPOINT}/{entity}", params=params)
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    def erp_requests(self) -> int:
        r = self.erp.get("/_sim/requests")
        assert r.status_code == 200, r.text
        data = r.json()
        return len(data) if isinstance(data, list) else len(data.get("requests", []))


def _configure(s: AddinStack) -> None:
    for upn, name in ((ANN, "Ann Lee"), (BOB, "Bob Roe")):
        r = s.graph.post("/_sim/users", json={"userPrincipalName": upn, "displayName": name})
        assert r.status_code == 201, r.text
    r = s.erp.post("/_sim/seed", json={"Employee": [{"EmployeeID": v("EP00000002"), "EmployeeName": v("Ann Lee"),
                                                      "ContactInfo": {"Email": v(ANN)}}]})
    assert r.status_code < 300, r.text
    key = {"x-functions-key": s.stack.key}
    api = httpx.Client(base_url=s.stack.api, headers=key, timeout=30)
    with api:
        r = api.post("/policies", json={"name": "sales", "contacts": {"hyperlink": ERP_LINKS}})
        assert r.status_code == 201, r.text
        r = api.post("/servers", json={"name": "m365", "default_policy": "sales", "client_id": "app",
                                       "graph_base_url": f"{s.stack.graph.base_url}/v1.0"})
        assert r.status_code == 201, r.text
        r = api.put(f"/servers/m365/mailboxes/{ANN}", json={"employee_id": "EP00000002", "employee_name": "Ann"})
        assert r.status_code == 201, r.text


@contextlib.contextmanager
def _loop_thread() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="addin-stack", daemon=True)
    thread.start()
    try:
        yield loop
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@pytest.fixture(scope="package")
def addin_stack() -> Iterator[AddinStack]:
    """The stack with the add-in configured against a local issuer (one for the add-in tests)."""
    with _loop_thread() as loop:
        issuer = TokenIssuer()

        def run(coro: Awaitable[T]) -> T:
            async def wrap() -> T:
                return await coro
            return asyncio.run_coroutine_threadsafe(wrap(), loop).result(120)

        run(issuer.start())
        env = {"EXSYNC_TENANT_ID": issuer.tenant, "EXSYNC_ADDIN_CLIENT_ID": CLIENT_ID,
               "EXSYNC_ADDIN_AUTHORITY": issuer.authority}
        manager = running_stack(port=free_port(), graph_port=free_port(), erp_port=free_port(), timers=False,
                                extra_env=env)
        stack = run(manager.__aenter__())
        graph = httpx.Client(base_url=stack.graph.base_url, timeout=30,
                             headers={"Authorization": "Bearer test", "Prefer": 'IdType="ImmutableId"'})
        erp = httpx.Client(base_url=stack.erp.base_url, timeout=30)
        try:
            r = erp.post("/entity/auth/login", json={"name": "admin", "password": "setup", "tenant": "Company"})
            assert r.status_code == 204, r.text
            s = AddinStack(stack, issuer, loop, graph, erp)
            _configure(s)
            yield s
        finally:
            with contextlib.suppress(httpx.HTTPError):
                erp.post("/entity/auth/logout")
            graph.close()
            erp.close()
            try:
                run(manager.__aexit__(None, None, None))
            finally:
                run(issuer.stop())

