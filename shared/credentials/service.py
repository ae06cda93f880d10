"""Wiring of the credential features into the app, from settings (the runtime builds them once).

- :func:`graph_credential`: the Graph credential of a server (``shared.runtime`` calls it through
  ``shared.credentials.graph_credential``); Key Vault clients use ``DefaultAzureCredential`` (the
  Function App's managed identity in Azure) and are shared per vault URL.
- :class:`CredentialServices`: the daily run (opt-in rotation, then the expiry check with
  alerts), the on-demand expiry report, and the configuration review for the admin API and CLI.

The authority host follows azure-identity's ``AZURE_AUTHORITY_HOST`` (sovereign clouds); tests
inject ``ProviderOptions`` and transports instead.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx

from shared.credentials.alerts import AlertConfig, check_server_expiry
from shared.credentials.doctor import Finding, report_json, review_server
from shared.credentials.graph_admin import GraphAdmin, GraphAdminClient
from shared.credentials.providers import ExsyncCredential, ProviderOptions, build_credential, utcnow
from shared.credentials.rotation import ROTATION_KIND, Outcome, RotationPolicy, Rotator, token_prover
from shared.credentials.vault import KeyVaultSecrets, SecretVault
from shared.domain.config import KeyVaultSecretCredential, Mailbox, ServerConfig, SyncPolicy
from shared.errors import ExsyncError
from shared.ports import Clock, StateStore

if TYPE_CHECKING:
    from shared.settings import Settings

logger = logging.getLogger(__name__)

ROTATION_LEASE_SECONDS = 600.0
_vaults: dict[str, SecretVault] = {}
_vault_identity: Any = None


def default_vaults(url: str) -> SecretVault:
    """One Key Vault client per vault URL for the process, authenticated as the app's identity."""
    global _vault_identity
    if url not in _vaults:
        if _vault_identity is None:
            from azure.identity.aio import DefaultAzureCredential

            _vault_identity = DefaultAzureCredential()
        _vaults[url] = KeyVaultSecrets(url, _vault_identity)
    return _vaults[url]


_options_override: ProviderOptions | None = None


def use_provider_options(options: ProviderOptions | None) -> None:
    """Install provider options for the whole process (local host, tests); None restores production."""
    global _options_override
    _options_override = options


def provider_options(settings: Settings | None = None) -> ProviderOptions:
    """The installed options, else production ones (Key Vault via DefaultAzureCredential)."""
    return _options_override or ProviderOptions(vaults=default_vaults)


def graph_credential(server: ServerConfig, settings: Settings | None = None) -> ExsyncCredential:
    """The token credential the Graph gateway uses for ``server``."""
    return build_credential(server, provider_options(settings))


def alert_config(settings: Settings) -> AlertConfig:
    webhook = settings.alert_webhook_url.get_secret_value() if settings.alert_webhook_url else None
    return AlertConfig(tuple(settings.alert_emails), settings.alert_sender, webhook)


@dataclasses.dataclass
class CredentialServices:
    """The credential features over one state store (see the module docs)."""

    state: StateStore
    options: ProviderOptions
    alerts: AlertConfig = dataclasses.field(default_factory=AlertConfig)
    rotation_enabled: bool = False
    rotation_policy: RotationPolicy = dataclasses.field(default_factory=RotationPolicy)
    clock: Callable[[], datetime] = utcnow
    notifications_expected: bool = True
    graph_transport: httpx.AsyncBaseTransport | None = None
    graph_factory: Callable[[ServerConfig, Any], GraphAdmin] | None = None  # default GraphAdminClient

    @classmethod
    def from_settings(cls, settings: Settings, state: StateStore, clock: Clock) -> CredentialServices:
        """The production services (the runtime builds them once: ``Runtime.credential_services``)."""
        options = dataclasses.replace(provider_options(settings), clock=lambda: clock.now())
        return cls(state=state, options=options, alerts=alert_config(settings),
                   rotation_enabled=settings.rotation_enabled, clock=lambda: clock.now(),
                   notifications_expected=bool(settings.graph_notification_url))

    def _graph(self, server: ServerConfig, credential: Any) -> GraphAdmin:
        if self.graph_factory is not None:
            return self.graph_factory(server, credential)
        return GraphAdminClient(server.graph_base_url, credential, transport=self.graph_transport)

    async def _servers(self, name: str | None = None) -> list[ServerConfig]:
        servers = [s.value for s in await self.state.list_servers()]
        return [s for s in servers if s.is_active and (name is None or s.name == name)]

    async def check_server(self, server: ServerConfig, *, notify: bool = True) -> dict[str, Any]:
        """Rotation when enabled and due, then the expiry check (alerts unless ``notify`` is False)."""
        async with build_credential(server, self.options) as credential:
            graph = self._graph(server, credential)
            try:
                channels = self.alerts.channels(graph)
                out: dict[str, Any] = {}
                if notify and self.rotation_enabled and isinstance(server.credential, KeyVaultSecretCredential):
                    rotator = Rotator(server, self.options.vault(server.credential.vault_url), graph,
                                      token_prover(server, self.options), self.state, self.clock, channels,
                                      self.rotation_policy)
                    out["rotation"] = await self._rotate(rotator)
                    if out["rotation"]["outcome"] == Outcome.ROTATED.value:
                        credential.invalidate()
                report = await check_server_expiry(server, vaults=self.options.vaults, graph=graph,
                                                   store=self.state, channels=channels, clock=self.clock,
                                                   notify=notify, retiring=await self._retiring(server))
                return {**report.to_json(), **out}
            finally:
                await graph.aclose()

    async def _rotate(self, rotator: Rotator) -> dict[str, Any]:
        """Run the rotator under a lease so an on-demand check and the timer never rotate together."""
        key, owner = f"credential-rotation:{rotator.server.name}", uuid.uuid4().hex
        if not await self.state.acquire_lease(key, owner, ROTATION_LEASE_SECONDS):
            logger.info("server %s: another instance is rotating; skipped", rotator.server.name)
            return {"server": rotator.server.name, "outcome": "skipped", "message": "another rotation runs"}
        try:
            return (await rotator.run()).to_json()
        finally:
            await self.state.release_lease(key, owner)

    async def _retiring(self, server: ServerConfig) -> frozenset[str]:
        doc = await self.state.get_doc(ROTATION_KIND, server.name)
        old = doc.value.get("old_key_id") if doc and doc.value.get("state") == "stored" else None
        return frozenset({str(old)}) if old else frozenset()

    async def check_all(self, *, notify: bool = True, server: str | None = None) -> dict[str, Any]:
        """The daily run (``notify``) or the on-demand report over every active server."""
        results = []
        for config in await self._servers(server):
            try:
                results.append(await self.check_server(config, notify=notify))
            except ExsyncError as exc:  # one server's failure must not hide the others
                logger.error("credential check of server %s failed: %s", config.name, exc)
                results.append({"server": config.name, "error": str(exc)})
        logger.info("credential check: %d server(s)", len(results))
        return {"servers": results}

    async def _policies(self) -> Mapping[str, SyncPolicy]:
        """Stored policies, and the built-in ``default`` (PRODUCT defaults) unless one is stored."""
        stored = {p.value.name: p.value for p in await self.state.list_policies()}
        return {"default": SyncPolicy(name="default"), **stored}

    async def review(self, server: ServerConfig, mailboxes: list[Mailbox]) -> list[Finding]:
        async with build_credential(server, self.options) as credential:
            graph = self._graph(server, credential)
            try:
                return await review_server(server, credential=credential, graph=graph, mailboxes=mailboxes,
                                           policies=await self._policies(), store=self.state,
                                           vaults=self.options.vaults, clock=self.clock,
                                           notifications_expected=self.notifications_expected)
            finally:
                await graph.aclose()

    async def server_test(self, server: ServerConfig, mailboxes: list[Mailbox]) -> dict[str, Any]:
        """``Runtime.server_tester``: the review as the admin API's JSON."""
        return report_json(server, await self.review(server, mailboxes))
