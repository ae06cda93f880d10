"""Configuration review ("doctor"): every check a server needs to sync, each with its fix.

:func:`review_server` returns :class:`Finding` s (check, status ok/warning/error, a one-line cause,
the fix) for: token acquisition; the token's ``roles`` against the required (and optional) Graph
application permissions; each synced mailbox reachable (with the Exchange RBAC for Applications
hint on a 403); the policy's category and folders present; change-notification subscriptions
alive (DocumentStore kind ``subscriptions``); days left on every credential. It is read-only: it
never creates folders or categories (that is "Initialize server").
"""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from shared.credentials.expiry import ERROR_AT, THRESHOLDS, collect_expiries, days_left
from shared.credentials.graph_admin import FolderKind, GraphAdmin, parse_graph_time
from shared.credentials.providers import GRAPH_SCOPE
from shared.credentials.vault import VaultAccessDenied, VaultFactory
from shared.domain.config import (
    FederatedIdentityCredential,
    KeyVaultSecretCredential,
    Mailbox,
    ServerConfig,
    SyncPolicy,
)
from shared.errors import ExsyncError, NotFound, RemoteError, ValidationFailed
from shared.permissions import optional_permissions, required_permissions
from shared.ports import DocumentStore

logger = logging.getLogger(__name__)

SUBSCRIPTIONS_KIND = "subscriptions"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"


class Status(StrEnum):
    OK = "ok"
    WARNING = "warning"
    ERROR = "error"


@dataclasses.dataclass(frozen=True, slots=True)
class Finding:
    check: str
    status: Status
    cause: str
    fix: str = ""
    target: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"check": self.check, "target": self.target, "status": self.status.value,
                "ok": self.status is not Status.ERROR, "message": self.cause, "fix": self.fix}


def report_json(server: ServerConfig, findings: Sequence[Finding]) -> dict[str, Any]:
    """The review as the admin API and the CLI return it."""
    worst = (Status.ERROR if any(f.status is Status.ERROR for f in findings)
             else Status.WARNING if any(f.status is Status.WARNING for f in findings) else Status.OK)
    return {"server": server.name, "ok": worst is not Status.ERROR, "status": worst.value,
            "findings": [f.to_json() for f in findings]}


# ---------------------------------------------------------------- token


def _token_fix(server: ServerConfig, exc: ExsyncError) -> str:
    code = getattr(exc, "code", None)
    ref = server.credential
    secret_place = (f"Key Vault secret '{ref.secret_name}' in {ref.vault_url}"
                    if isinstance(ref, KeyVaultSecretCredential) else "the credential")
    fixes = {
        "AADSTS7000222": f"the client secret expired: create a new secret on app {server.client_id} "
                         f"(Certificates & secrets) and store its value as a new version of {secret_place}",
        "AADSTS7000215": f"the secret is wrong: store the secret's Value (not its Secret ID) in {secret_place}",
        "AADSTS700016": f"no app {server.client_id} in tenant {server.tenant_id}: check client_id and tenant_id",
        "AADSTS90002": f"tenant {server.tenant_id} not found: set tenant_id to the directory (tenant) id",
        "AADSTS900023": f"tenant {server.tenant_id} is malformed: set tenant_id to the directory (tenant) id",
        "AADSTS700027": f"the certificate is not registered: upload its public key to app {server.client_id} "
                        "(Certificates & secrets > Certificates) or renew it",
        "AADSTS70021": "no matching federated credential: add one to the app registration with issuer "
                       f"https://login.microsoftonline.com/{server.tenant_id}/v2.0, subject = the managed "
                       "identity's principal (object) id, audience api://AzureADTokenExchange",
        "AADSTS700213": "no matching federated credential: check the federated credential's subject "
                        "(the managed identity's principal id) and issuer",
    }
    if code in fixes:
        return fixes[code]
    if isinstance(exc, NotFound):
        return f"create {secret_place} (the app registration's client secret value)"
    if isinstance(exc, ValidationFailed):
        return "; ".join(exc.errors.values())
    if isinstance(exc, VaultAccessDenied):
        return "grant the Function App's managed identity the 'Key Vault Secrets User' role on the vault"
    return "check tenant_id, client_id and the credential reference of the server"


def token_roles(token: str) -> list[str] | None:
    """The ``roles`` claim of a JWT access token (not verified: Graph verifies it), None if unreadable."""
    try:
        body = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (IndexError, ValueError):
        return None
    roles = claims.get("roles") if isinstance(claims, dict) else None
    return [str(r) for r in roles] if isinstance(roles, list) else []


def _consent_fix(server: ServerConfig, names: Sequence[str], ids: Sequence[str]) -> str:
    grants = " ".join(f"{i}=Role" for i in ids)
    return (f"Entra admin center > App registrations > {server.client_id} > API permissions > Add a permission > "
            f"Microsoft Graph > Application permissions: {', '.join(names)}; then 'Grant admin consent for "
            f"<your organization>'. CLI: az ad app permission add --id {server.client_id} --api {GRAPH_APP_ID} "
            f"--api-permissions {grants} && az ad app permission admin-consent --id {server.client_id}")


def permission_findings(server: ServerConfig, roles: list[str] | None) -> list[Finding]:
    if roles is None:
        return [Finding("permissions", Status.WARNING, "the access token is not a readable JWT",
                        "nothing to fix if sync works; the permission check was skipped")]
    findings: list[Finding] = []
    missing = [p for p in required_permissions() if p.name not in roles]
    if missing:
        findings.append(Finding("permissions", Status.ERROR,
                                f"missing Graph application permissions: {', '.join(p.name for p in missing)}",
                                _consent_fix(server, [p.name for p in missing], [p.id for p in missing])))
    else:
        findings.append(Finding("permissions", Status.OK, "all required Graph application permissions granted"))
    optional = [p for p in optional_permissions() if p.name not in roles]
    if "Application.ReadWrite.OwnedBy" in roles:  # it also reads the app's own registration
        optional = [p for p in optional if p.name != "Application.Read.All"]
    if optional:
        findings.append(Finding(
            "permissions.optional", Status.WARNING,
            f"optional permissions not granted: {', '.join(p.name for p in optional)} "
            f"({'; '.join(p.why for p in optional)})",
            _consent_fix(server, [p.name for p in optional], [p.id for p in optional])))
    return findings


# ---------------------------------------------------------------- mailboxes


RBAC_HINT = ("if the app is scoped with Exchange RBAC for Applications, add this mailbox to the management "
             "scope (Set-ManagementScope / the scope's group) and verify with Test-ServicePrincipalAuthorization "
             "-Identity <app> -Resource <mailbox>; changes take 30 min to 2 h. Otherwise grant admin consent "
             "for Mail.ReadWrite")


async def _mailbox_findings(mailbox: Mailbox, policy: SyncPolicy | None, graph: GraphAdmin) -> list[Finding]:
    upn = mailbox.email
    try:
        await graph.get_user(upn)
        mail_folders = await graph.list_folder_names(upn, FolderKind.MAIL)
    except NotFound:
        return [Finding("mailbox", Status.ERROR, f"{upn} not found in the tenant",
                        "check the mailbox e-mail (its UPN) and that the user has an Exchange Online licence",
                        upn)]
    except RemoteError as exc:
        if exc.status == 403:
            return [Finding("mailbox", Status.ERROR, f"access to {upn} denied ({exc.code})", RBAC_HINT, upn)]
        return [Finding("mailbox", Status.ERROR, f"{upn} not reachable: {exc}",
                        "retry later; if it persists check Graph service health", upn)]
    findings = [Finding("mailbox", Status.OK, f"{upn} reachable", "", upn)]
    if policy is None:
        findings.append(Finding("policy", Status.ERROR, f"the mailbox's policy {mailbox.policy!r} does not exist",
                                "create the policy or assign an existing one to the mailbox", upn))
        return findings
    findings += await _container_findings(upn, policy, graph, mail_folders)
    return findings


async def _container_findings(upn: str, policy: SyncPolicy, graph: GraphAdmin,
                              mail_folders: list[str]) -> list[Finding]:
    init = "run Initialize server (POST /api/servers/{name}/initialize) for this mailbox"
    out: list[Finding] = []
    try:
        categories = await graph.list_categories(upn)
        wanted = policy.category.name
        out.append(Finding("category", Status.OK, f"category {wanted!r} present", "", upn) if wanted in categories
                   else Finding("category", Status.WARNING, f"category {wanted!r} missing", init, upn))
        checks: list[tuple[str, str, str | None, bool]] = [
            ("folder.emails", FolderKind.MAIL, policy.emails.folder, policy.emails.enabled),
            ("folder.contacts", FolderKind.CONTACTS, policy.contacts.folder, policy.contacts.enabled),
            ("folder.tasks", FolderKind.TODO, policy.tasks.folder, policy.tasks.enabled),
            ("folder.events", FolderKind.CALENDARS, policy.events.folder, policy.events.enabled)]
        for check, kind, name, enabled in checks:
            if not enabled or not name:
                continue
            names = mail_folders if kind == FolderKind.MAIL else await graph.list_folder_names(upn, kind)
            out.append(Finding(check, Status.OK, f"{name!r} present", "", upn) if name in names
                       else Finding(check, Status.WARNING, f"{name!r} missing", init, upn))
    except RemoteError as exc:
        fix = (RBAC_HINT + ". To Do lists cannot be scoped by Exchange RBAC: Tasks.ReadWrite.All is tenant-wide"
               if exc.status == 403 else "retry later")
        out.append(Finding("containers", Status.ERROR, f"cannot read categories or folders: {exc}", fix, upn))
    return out


# ---------------------------------------------------------------- subscriptions


def _expiry_of(doc: Mapping[str, Any]) -> datetime | None:
    for field in ("expirationDateTime", "expires_at", "expires_on", "expiration"):
        if doc.get(field):
            try:
                return parse_graph_time(doc[field])
            except ValueError:
                return None
    return None


async def subscription_findings(mailboxes: Sequence[Mailbox], store: DocumentStore, now: datetime,
                                expected: bool) -> list[Finding]:
    docs = [d.value for _, d in await store.list_docs(SUBSCRIPTIONS_KIND)]
    if not expected:
        return [Finding("subscriptions", Status.OK, "change notifications not configured: changes sync on the "
                        "schedule", "set EXSYNC_GRAPH_NOTIFICATION_URL for near-real-time mail")]
    findings: list[Finding] = []
    for mailbox in mailboxes:
        mine = [d for d in docs if str(d.get("mailbox", "")).lower() == mailbox.email]
        fix = "the subscription keeper recreates it on its next pass; check EXSYNC_GRAPH_NOTIFICATION_URL is " \
              "reachable from the internet (Graph validates it)"
        if not mine:
            findings.append(Finding("subscriptions", Status.WARNING, "no change-notification subscription", fix,
                                    mailbox.email))
            continue
        dead = [d for d in mine if (e := _expiry_of(d)) is not None and e <= now]
        stale = [d for d in mine if d.get("renew_now")]
        if dead:
            findings.append(Finding("subscriptions", Status.WARNING,
                                    f"{len(dead)} of {len(mine)} subscription(s) expired", fix, mailbox.email))
        elif stale:
            findings.append(Finding("subscriptions", Status.WARNING,
                                    f"{len(stale)} subscription(s) need reauthorization", fix, mailbox.email))
        else:
            findings.append(Finding("subscriptions", Status.OK, f"{len(mine)} subscription(s) alive", "",
                                    mailbox.email))
    return findings


# ---------------------------------------------------------------- credentials


async def credential_findings(server: ServerConfig, vaults: VaultFactory | None, graph: GraphAdmin | None,
                              now: datetime) -> list[Finding]:
    ref = server.credential
    expiries, problems = await collect_expiries(server, vaults=vaults, graph=graph)
    out = [Finding("credential.expiry", Status.WARNING, f"cannot read the {p.source.value} end dates: {p.cause}",
                   p.fix) for p in problems]
    rotate = ("create a new secret and store it as a new Key Vault version (or set EXSYNC_ROTATION_ENABLED=true), "
              "or move to a certificate or a federated credential; see docs/credentials.md")
    for exp in expiries:
        label = exp.label()
        if exp.expires_on is None:
            out.append(Finding("credential.expiry", Status.WARNING, f"{label} has no end date",
                               "set the secret's expiration date in Key Vault so expiry alerts work", label))
            continue
        left = days_left(exp.expires_on, now)
        if exp.expires_on <= now:
            out.append(Finding("credential.expiry", Status.ERROR, f"{label} expired on {exp.expires_on:%Y-%m-%d}",
                               rotate if exp.source.value != "app_registration"
                               else "remove the expired secret from the app registration if it is unused",
                               label))
        elif left <= ERROR_AT:
            out.append(Finding("credential.expiry", Status.ERROR, f"{label}: {left} day(s) left", rotate, label))
        elif left <= THRESHOLDS[0]:
            out.append(Finding("credential.expiry", Status.WARNING, f"{label}: {left} day(s) left", rotate, label))
        else:
            out.append(Finding("credential.expiry", Status.OK, f"{label}: {left} day(s) left", "", label))
    if isinstance(ref, FederatedIdentityCredential):
        out.append(Finding("credential.expiry", Status.OK, "federated identity: no secret to expire"))
    return out


# ---------------------------------------------------------------- the review


async def review_server(server: ServerConfig, *, credential: Any, graph: GraphAdmin,
                        mailboxes: Sequence[Mailbox], policies: Mapping[str, SyncPolicy],
                        store: DocumentStore, vaults: VaultFactory | None, clock: Callable[[], datetime],
                        notifications_expected: bool = True) -> list[Finding]:
    """Every finding for ``server`` (see the module docs). ``policies`` maps policy name -> policy."""
    now = clock()
    findings: list[Finding] = []
    try:
        token = await credential.get_token(GRAPH_SCOPE)
    except ExsyncError as exc:
        findings.append(Finding("token", Status.ERROR, f"no token: {exc}", _token_fix(server, exc)))
        findings += await credential_findings(server, vaults, None, now)
        logger.info("review of %s: no token; %d finding(s)", server.name, len(findings))
        return findings
    findings.append(Finding("token", Status.OK, f"token acquired for app {server.client_id}"))
    findings += permission_findings(server, token_roles(token.token))
    synced = [m for m in mailboxes if m.sync]
    for mailbox in synced:
        findings += await _mailbox_findings(mailbox, policies.get(mailbox.policy_name(server)), graph)
    findings += await subscription_findings(synced, store, now, notifications_expected)
    findings += await credential_findings(server, vaults, graph, now)
    counts = {s: sum(1 for f in findings if f.status is s) for s in Status}
    logger.info("review of %s: %d ok, %d warning(s), %d error(s)", server.name, counts[Status.OK],
                counts[Status.WARNING], counts[Status.ERROR])
    return findings
