"""Credential expiry: where each credential's end date comes from, days left, and alert thresholds.

Pure decisions (:func:`threshold_for`, :func:`channels_due`, :func:`record_sent`) plus the reader
:func:`collect_expiries` that asks Key Vault (the secret's or certificate's ``expires_on``) and
Graph (the app registration's ``passwordCredentials``/``keyCredentials`` ``endDateTime``).

Thresholds are 60, 30, 14, 7 and 1 days left, and 0 for "expired". A channel alerts once per
threshold per credential: the alert state (DocumentStore kind ``credential_alerts``) keeps, per
channel, the thresholds already delivered for the current end date; a new end date (a rotated
secret) starts over.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Iterable, Sequence
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from shared.credentials.graph_admin import GraphAdmin
from shared.credentials.vault import VaultFactory
from shared.domain.config import CertificateCredential, KeyVaultSecretCredential, ServerConfig
from shared.errors import ExsyncError

logger = logging.getLogger(__name__)

THRESHOLDS: tuple[int, ...] = (60, 30, 14, 7, 1)
EXPIRED = 0
ERROR_AT = 7  # thresholds at or below this log at ERROR, above at WARNING
ALERT_STATE_KIND = "credential_alerts"


class Source(StrEnum):
    KEY_VAULT = "key_vault"
    APP_REGISTRATION = "app_registration"
    PEM_FILE = "pem_file"


@dataclasses.dataclass(frozen=True, slots=True)
class CredentialExpiry:
    """One credential's end date. ``key`` is stable and table-key safe (alert state key)."""

    server: str
    source: Source
    name: str
    ident: str
    expires_on: datetime | None

    @property
    def key(self) -> str:
        return f"{self.server}.{self.source.value}.{self.ident}"

    def label(self) -> str:
        what = {Source.KEY_VAULT: "Key Vault secret", Source.APP_REGISTRATION: "app registration credential",
                Source.PEM_FILE: "certificate file"}[self.source]
        return f"{what} '{self.name}'"


@dataclasses.dataclass(frozen=True, slots=True)
class ExpiryProblem:
    """A source that could not be read (reported, and a doctor finding)."""

    server: str
    source: Source
    cause: str
    fix: str


def days_left(expires_on: datetime, now: datetime) -> int:
    """Whole days until ``expires_on`` (negative once expired)."""
    return (expires_on - now).days


def threshold_for(expires_on: datetime | None, now: datetime) -> int | None:
    """The alert threshold the credential is in: 60/30/14/7/1, 0 once expired, None if > 60 days."""
    if expires_on is None:
        return None
    if expires_on <= now:
        return EXPIRED
    left = days_left(expires_on, now)
    due = [t for t in THRESHOLDS if left <= t]
    return min(due) if due else None


def channels_due(state: dict[str, Any] | None, expires_on: datetime, threshold: int,
                 channels: Iterable[str]) -> list[str]:
    """Channels that have not delivered this threshold (or a more urgent one) for this end date."""
    sent = _sent_for(state, expires_on)
    return [c for c in channels if min(sent.get(c, []), default=THRESHOLDS[0] + 1) > threshold]


def record_sent(state: dict[str, Any] | None, expires_on: datetime, threshold: int,
                delivered: Sequence[str]) -> dict[str, Any]:
    """The alert state after ``delivered`` channels sent ``threshold``."""
    sent = _sent_for(state, expires_on)
    for channel in delivered:
        sent[channel] = sorted({*sent.get(channel, []), threshold}, reverse=True)
    return {"expires_on": expires_on.isoformat(), "sent": sent}


def _sent_for(state: dict[str, Any] | None, expires_on: datetime) -> dict[str, list[int]]:
    if not state or state.get("expires_on") != expires_on.isoformat():
        return {}
    return {str(k): [int(t) for t in v] for k, v in dict(state.get("sent") or {}).items()}


def _pem_not_after(path: str) -> datetime | None:
    from cryptography import x509

    data = Path(path).read_bytes()
    cert = x509.load_pem_x509_certificate(data)
    return cert.not_valid_after_utc


async def _own_expiries(server: ServerConfig, vaults: VaultFactory | None) -> list[CredentialExpiry]:
    """The end date of the credential exsync itself holds (vault secret, vault certificate, PEM file)."""
    ref = server.credential
    if isinstance(ref, CertificateCredential) and ref.pem_path:
        end = await asyncio.to_thread(_pem_not_after, ref.pem_path)
        return [CredentialExpiry(server.name, Source.PEM_FILE, Path(ref.pem_path).name, "pem", end)]
    if vaults is None:
        return []
    if isinstance(ref, KeyVaultSecretCredential):
        vault_url, name = ref.vault_url, ref.secret_name
    elif isinstance(ref, CertificateCredential) and ref.vault_url and ref.certificate_name:
        vault_url, name = ref.vault_url, ref.certificate_name
    else:
        return []
    secret = await vaults(vault_url).get_secret(name)
    return [CredentialExpiry(server.name, Source.KEY_VAULT, name, name, secret.expires_on)]


async def _app_expiries(server: ServerConfig, graph: GraphAdmin) -> list[CredentialExpiry]:
    app = await graph.get_application(server.client_id)
    return [CredentialExpiry(server.name, Source.APP_REGISTRATION, c.display_name or c.key_id, c.key_id,
                             c.end) for c in app.credentials]


async def collect_expiries(server: ServerConfig, *, vaults: VaultFactory | None,
                           graph: GraphAdmin | None) -> tuple[list[CredentialExpiry], list[ExpiryProblem]]:
    """Every credential end date of ``server``, and the sources that could not be read."""
    found: list[CredentialExpiry] = []
    problems: list[ExpiryProblem] = []
    try:
        found += await _own_expiries(server, vaults)
    except (OSError, ValueError) as exc:
        problems.append(ExpiryProblem(server.name, Source.PEM_FILE, str(exc),
                                      "check credential.pem_path names a readable PEM certificate"))
    except ExsyncError as exc:
        problems.append(ExpiryProblem(server.name, Source.KEY_VAULT, str(exc),
                                      "grant the Function App's identity 'Key Vault Secrets User' on the "
                                      "vault and check the secret name in the server's credential"))
    if graph is not None and server.client_id:
        try:
            found += await _app_expiries(server, graph)
        except ExsyncError as exc:
            problems.append(ExpiryProblem(server.name, Source.APP_REGISTRATION, str(exc),
                                          "grant the Graph application permission Application.Read.All "
                                          "(admin consent) so exsync can read the secrets' end dates"))
    for problem in problems:
        logger.warning("server %s: cannot read %s expiry: %s", server.name, problem.source.value,
                       problem.cause)
    return found, problems
