"""The configuration review: every finding, against the fake tenant, fake vault and the Graph twin."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from shared.credentials.doctor import Finding, Status, report_json, review_server
from shared.credentials.graph_admin import FolderKind, InMemoryGraphAdmin
from shared.credentials.providers import ProviderOptions, build_credential
from shared.credentials.vault import KEY_ID_TAG
from shared.domain.config import (
    ContactsPolicy,
    FederatedIdentityCredential,
    Mailbox,
    ServerConfig,
    SyncPolicy,
)
from shared.errors import RemoteError
from shared.permissions import optional_permissions, required_permissions
from shared.state.memory import InMemoryStateStore
from tests.credentials.conftest import APP_ID, SECRET_NAME, Clock, make_server
from tests.credentials.fakes import FakeTenant, StaticCredential

ANN = "ann@contoso.test"
POLICY = SyncPolicy(name="default", contacts=ContactsPolicy(folder="ERP contacts"))
ALL_ROLES = [p.name for p in required_permissions() + optional_permissions()]
FULL = {FolderKind.MAIL: ["Inbox", "ERP"], FolderKind.CONTACTS: ["ERP contacts"]}


class Env:
    def __init__(self, tenant: FakeTenant, graph: InMemoryGraphAdmin, options: ProviderOptions,
                 vaults: Callable[[str], Any], clock: Clock) -> None:
        self.tenant, self.graph, self.options, self.vaults, self.clock = tenant, graph, options, vaults, clock
        self.store = InMemoryStateStore()
        self.mailboxes = [Mailbox(email=ANN, server="contoso", employee_id="EP1")]
        self.policies = {"default": POLICY}

    async def review(self, server: ServerConfig | None = None, credential: Any = None,
                     **kwargs: Any) -> list[Finding]:
        server = server or make_server()
        cred = credential or build_credential(server, self.options)
        try:
            return await review_server(server, credential=cred, graph=self.graph, mailboxes=self.mailboxes,
                                       policies=self.policies, store=self.store, vaults=self.vaults,
                                       clock=self.clock, **kwargs)
        finally:
            await cred.close()

    async def subscribe(self, sub_id: str, **extra: Any) -> None:
        await self.store.put_doc("subscriptions", sub_id, {"mailbox": ANN, "record_type": "email", **extra})


@pytest.fixture
async def env(tenant: FakeTenant, graph_twin: InMemoryGraphAdmin, options: ProviderOptions,
              vaults: Callable[[str], Any], clock: Clock) -> Env:
    app = graph_twin.add_app(APP_ID)
    new = await graph_twin.add_password(app.object_id, "exsync", clock() + timedelta(days=200))
    tenant.put_secret(SECRET_NAME, new.secret_text, expires_on=new.end, tags={KEY_ID_TAG: new.key_id})
    tenant.roles = list(ALL_ROLES)
    graph_twin.add_mailbox(ANN, categories=["ERP"], folders=dict(FULL))
    e = Env(tenant, graph_twin, options, vaults, clock)
    await e.subscribe("s1", expirationDateTime=(clock() + timedelta(days=2)).isoformat())
    return e


def _only(findings: list[Finding], check: str, target: str | None = None) -> Finding:
    matches = [f for f in findings if f.check == check and (target is None or f.target == target)]
    assert len(matches) == 1, matches
    return matches[0]


async def test_a_healthy_server_has_no_warnings(env: Env) -> None:
    findings = await env.review()
    assert [f for f in findings if f.status is not Status.OK] == []
    checks = {f.check for f in findings}
    assert {"token", "permissions", "mailbox", "category", "folder.emails", "folder.contacts", "subscriptions",
            "credential.expiry"} <= checks
    assert report_json(make_server(), findings)["status"] == "ok"


async def test_expired_secret_is_a_token_error_with_the_fix(env: Env) -> None:
    env.clock.advance(days=201)
    findings = await env.review()
    token = _only(findings, "token")
    assert token.status is Status.ERROR and "AADSTS7000222" in token.cause and "expired" in token.fix
    assert SECRET_NAME in token.fix
    assert any(f.check == "credential.expiry" and f.status is Status.ERROR for f in findings)
    assert report_json(make_server(), findings)["ok"] is False


async def test_missing_vault_secret(env: Env) -> None:
    env.tenant.secrets.clear()
    token = _only(await env.review(), "token")
    assert token.status is Status.ERROR and "create" in token.fix


async def test_vault_access_denied(env: Env) -> None:
    env.tenant.vault_faults[("GET", SECRET_NAME)] = 403
    token = _only(await env.review(), "token")
    assert token.status is Status.ERROR and "Key Vault Secrets User" in token.fix


async def test_wrong_secret(env: Env) -> None:
    env.tenant.put_secret(SECRET_NAME, "wrong")
    token = _only(await env.review(), "token")
    assert "Value (not its Secret ID)" in token.fix


async def test_missing_required_permissions_are_listed_with_the_consent_step(env: Env) -> None:
    env.tenant.roles = [r for r in ALL_ROLES if r not in ("Mail.Send", "Tasks.ReadWrite.All")]
    finding = _only(await env.review(), "permissions")
    assert finding.status is Status.ERROR
    assert "Mail.Send" in finding.cause and "Tasks.ReadWrite.All" in finding.cause and "Contacts" not in finding.cause
    assert "admin-consent" in finding.fix and "Grant admin consent" in finding.fix
    mail_send = next(p for p in required_permissions() if p.name == "Mail.Send")
    assert f"{mail_send.id}=Role" in finding.fix


async def test_missing_optional_permissions_warn(env: Env) -> None:
    env.tenant.roles = [p.name for p in required_permissions()]
    finding = _only(await env.review(), "permissions.optional")
    assert finding.status is Status.WARNING and "Application.ReadWrite.OwnedBy" in finding.cause


async def test_unreadable_token_skips_the_permission_check(env: Env) -> None:
    finding = _only(await env.review(credential=StaticCredential("opaque-token")), "permissions")
    assert finding.status is Status.WARNING


async def test_mailbox_out_of_rbac_scope(env: Env) -> None:
    env.graph.add_mailbox(ANN, denied=True)
    finding = _only(await env.review(), "mailbox", ANN)
    assert finding.status is Status.ERROR and "Test-ServicePrincipalAuthorization" in finding.fix


async def test_mailbox_not_found(env: Env) -> None:
    env.graph.mailboxes.clear()
    finding = _only(await env.review(), "mailbox", ANN)
    assert finding.status is Status.ERROR and "licence" in finding.fix


async def test_unsynced_mailboxes_are_skipped(env: Env) -> None:
    env.graph.mailboxes.clear()
    env.mailboxes = [env.mailboxes[0].model_copy(update={"sync": False})]
    assert [f for f in await env.review() if f.check == "mailbox"] == []


async def test_missing_policy(env: Env) -> None:
    env.policies = {}
    assert _only(await env.review(), "policy", ANN).status is Status.ERROR


async def test_missing_category_and_folders(env: Env) -> None:
    env.graph.add_mailbox(ANN, categories=[], folders={FolderKind.MAIL: ["Inbox"]})
    findings = await env.review()
    for check in ("category", "folder.emails", "folder.contacts"):
        finding = _only(findings, check, ANN)
        assert finding.status is Status.WARNING and "Initialize" in finding.fix


async def test_containers_unreadable(env: Env) -> None:
    async def denied(upn: str) -> list[str]:
        raise RemoteError("denied", status=403, code="ErrorAccessDenied")

    env.graph.list_categories = denied  # type: ignore[method-assign]
    finding = _only(await env.review(), "containers", ANN)
    assert finding.status is Status.ERROR and "To Do" in finding.fix


@pytest.mark.parametrize(("arrange", "status", "text"), [
    ("none", Status.WARNING, "no change-notification"),
    ("expired", Status.WARNING, "expired"),
    ("reauthorize", Status.WARNING, "reauthorization"),
    ("alive", Status.OK, "alive")])
async def test_subscriptions(env: Env, arrange: str, status: Status, text: str) -> None:
    await env.store.delete_doc("subscriptions", "s1")
    if arrange == "expired":
        await env.subscribe("s2", expirationDateTime=(env.clock() - timedelta(minutes=5)).isoformat())
    elif arrange == "reauthorize":
        await env.subscribe("s3", expirationDateTime=(env.clock() + timedelta(days=1)).isoformat(), renew_now=True)
    elif arrange == "alive":
        await env.subscribe("s4", expires_at=(env.clock() + timedelta(days=1)).isoformat())
    finding = _only(await env.review(), "subscriptions", ANN)
    assert finding.status is status and text in finding.cause


async def test_subscriptions_not_expected(env: Env) -> None:
    await env.store.delete_doc("subscriptions", "s1")
    finding = _only(await env.review(notifications_expected=False), "subscriptions")
    assert finding.status is Status.OK


@pytest.mark.parametrize(("days", "status"), [(61, Status.OK), (45, Status.WARNING), (20, Status.WARNING),
                                              (7, Status.ERROR), (1, Status.ERROR)])
async def test_days_left_on_every_credential(env: Env, days: int, status: Status) -> None:
    env.clock.advance(days=200 - days - 0.5)
    findings = [f for f in await env.review() if f.check == "credential.expiry"]
    assert len(findings) == 2  # the vault secret and the app registration's password
    assert {f.status for f in findings} == {status}
    assert all(f"{days} day(s) left" in f.cause for f in findings)


async def test_vault_secret_without_end_date(env: Env) -> None:
    env.tenant.put_secret(SECRET_NAME, env.tenant.current(SECRET_NAME).value)
    findings = await env.review()
    assert any(f.check == "credential.expiry" and "no end date" in f.cause for f in findings)


async def test_unreadable_app_registration(env: Env) -> None:
    env.graph.fail_next["get_application"] = RemoteError("denied", status=403, code="Authorization_RequestDenied")
    findings = await env.review()
    assert any(f.check == "credential.expiry" and f.status is Status.WARNING and "Application.Read.All" in f.fix
               for f in findings)


async def test_federated_identity_has_nothing_to_expire(env: Env) -> None:
    env.tenant.federated[APP_ID] = "mi-client"
    server = make_server(FederatedIdentityCredential(managed_identity_client_id="mi-client"))
    env.graph.apps.clear()
    env.graph.add_app(APP_ID)
    findings = await env.review(server)
    assert _only(findings, "token").status is Status.OK
    assert _only(findings, "credential.expiry").cause == "federated identity: no secret to expire"
