"""Opt-in client secret rotation without a moment lacking a working credential.

A rotation (when the Key Vault secret has ``lead_days`` or fewer left, or forced):

1. ``addPassword`` on the app registration (the old secret stays valid);
2. prove the new secret by acquiring a token with it (retried: Entra ID replicates new secrets
   within seconds to minutes);
3. store it as a new Key Vault version with its ``expires_on`` and the keyId as a tag; providers
   pick it up within their cache TTL or at once on an auth failure;
4. after ``overlap`` (a later run), prove the vault's current secret again and ``removePassword``
   the old one.

The proof comes *before* the vault write (the issue lists it after): the vault then never holds a
secret that has not yet worked, so no instance can read an unproven secret. Any failure leaves the
old secret current, removes the half-made new password when one exists, and raises a notice.
Progress is kept in the DocumentStore (kind ``credential_rotation``, key = server name) so a crash
between steps is cleaned up by the next run. Secret values are never logged.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from shared.credentials.alerts import AlertChannel, Notice, deliver
from shared.credentials.expiry import days_left
from shared.credentials.graph_admin import AppRegistration, GraphAdmin, parse_graph_time
from shared.credentials.providers import GRAPH_SCOPE, ProviderOptions, secret_credential
from shared.credentials.vault import KEY_ID_TAG, SecretVault, SecretVersion
from shared.domain.config import KeyVaultSecretCredential, ServerConfig
from shared.errors import ExsyncError
from shared.ports import DocumentStore

logger = logging.getLogger(__name__)

ROTATION_KIND = "credential_rotation"
EVENT = "exsync.credential.rotation"

Prover = Callable[[str], Awaitable[None]]  # acquire a token with this secret or raise ExsyncError


class Outcome(StrEnum):
    NOT_APPLICABLE = "not_applicable"  # the server does not use a Key Vault secret
    NOT_DUE = "not_due"
    ROTATED = "rotated"
    OLD_REMOVED = "old_removed"
    FAILED = "failed"


class Step(StrEnum):
    READ = "read"
    ADD_PASSWORD = "add_password"
    PROVE = "prove"
    STORE = "store"
    REMOVE_OLD = "remove_old"


@dataclasses.dataclass(frozen=True)
class RotationPolicy:
    lead_days: int = 30
    lifetime_days: int = 180
    overlap: timedelta = timedelta(hours=24)
    proof_attempts: int = 6
    proof_delay_seconds: float = 10.0
    display_name: str = "exsync (rotated)"


@dataclasses.dataclass(frozen=True, slots=True)
class RotationResult:
    server: str
    outcome: Outcome
    message: str = ""
    step: Step | None = None
    new_key_id: str | None = None
    old_key_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"server": self.server, "outcome": self.outcome.value, "message": self.message,
                "step": self.step.value if self.step else None, "new_key_id": self.new_key_id,
                "old_key_id": self.old_key_id}


def token_prover(server: ServerConfig, options: ProviderOptions) -> Prover:
    """Proves a secret by acquiring a Graph token with a fresh client-secret credential."""
    async def prove(secret: str) -> None:
        from azure.core.exceptions import AzureError

        from shared.credentials.providers import auth_failed

        credential = secret_credential(server, secret, options)
        try:
            await credential.get_token(GRAPH_SCOPE)
        except AzureError as exc:
            raise auth_failed(exc, f"server {server.name}: proving the new secret") from exc
        finally:
            await credential.close()
    return prove


def current_key_id(secret: SecretVersion, app: AppRegistration) -> str | None:
    """The passwordCredential keyId behind the vault's secret: its tag, else a unique hint match."""
    tagged = secret.tags.get(KEY_ID_TAG)
    if tagged and any(p.key_id == tagged for p in app.passwords()):
        return tagged
    matches = [p for p in app.passwords() if p.hint and secret.value.startswith(p.hint)]
    return matches[0].key_id if len(matches) == 1 else None


@dataclasses.dataclass
class Rotator:
    """Rotates one server's Key Vault client secret (see the module docs)."""

    server: ServerConfig
    vault: SecretVault
    graph: GraphAdmin
    prove: Prover
    store: DocumentStore
    clock: Callable[[], datetime]
    channels: list[AlertChannel] = dataclasses.field(default_factory=list)
    policy: RotationPolicy = dataclasses.field(default_factory=RotationPolicy)
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    @property
    def secret_name(self) -> str:
        ref = self.server.credential
        assert isinstance(ref, KeyVaultSecretCredential)
        return ref.secret_name

    async def run(self, *, force: bool = False) -> RotationResult:
        """Finish a pending removal, else rotate when due (or forced)."""
        if not isinstance(self.server.credential, KeyVaultSecretCredential):
            return RotationResult(self.server.name, Outcome.NOT_APPLICABLE,
                                  "rotation needs a key_vault_secret credential")
        try:
            result = await self._run(force)
        except _StepFailed as exc:
            result = RotationResult(self.server.name, Outcome.FAILED, exc.message, exc.step,
                                    exc.new_key_id, exc.old_key_id)
        await self._report(result)
        return result

    async def _run(self, force: bool) -> RotationResult:
        stored = await self.store.get_doc(ROTATION_KIND, self.server.name)
        state = stored.value if stored else None
        if state and state.get("state") == "added":
            await self._discard(str(state["new_key_id"]), str(state["object_id"]))
            state = None
        if state and state.get("state") == "stored":
            return await self._finish(state)
        current = await self._step(Step.READ, self.vault.get_secret(self.secret_name))
        app = await self._step(Step.READ, self.graph.get_application(self.server.client_id))
        left = days_left(current.expires_on, self.clock()) if current.expires_on else None
        if not force and left is not None and left > self.policy.lead_days:
            return RotationResult(self.server.name, Outcome.NOT_DUE, f"{left} day(s) left")
        return await self._rotate(current, app)

    async def _rotate(self, current: SecretVersion, app: AppRegistration) -> RotationResult:
        old_key = current_key_id(current, app)
        end = self.clock() + timedelta(days=self.policy.lifetime_days)
        new = await self._step(Step.ADD_PASSWORD, self.graph.add_password(app.object_id,
                                                                          self.policy.display_name, end))
        await self.store.put_doc(ROTATION_KIND, self.server.name,
                                 {"state": "added", "new_key_id": new.key_id, "object_id": app.object_id},
                                 force=True)
        try:
            await self._prove(new.secret_text)
            stored = await self._step(Step.STORE, self.vault.set_secret(
                self.secret_name, new.secret_text, expires_on=new.end or end,
                content_type=current.content_type, tags={**current.tags, KEY_ID_TAG: new.key_id}))
        except _StepFailed as exc:
            await self._discard(new.key_id, app.object_id)
            exc.new_key_id, exc.old_key_id = new.key_id, old_key
            raise
        remove_after = self.clock() + self.policy.overlap
        await self.store.put_doc(ROTATION_KIND, self.server.name, {
            "state": "stored", "object_id": app.object_id, "new_key_id": new.key_id, "old_key_id": old_key,
            "new_version": stored.version, "remove_after": remove_after.isoformat()}, force=True)
        note = "" if old_key else "; the old secret's keyId is unknown: remove it by hand"
        logger.info("server %s: rotated the client secret to %s (old %s removed after %s)%s",
                    self.server.name, new.key_id, old_key, remove_after.isoformat(), note)
        return RotationResult(self.server.name, Outcome.ROTATED, f"new secret stored{note}", None,
                              new.key_id, old_key)

    async def _prove(self, secret: str) -> None:
        last: ExsyncError | None = None
        for attempt in range(self.policy.proof_attempts):
            if attempt:
                await self.sleep(self.policy.proof_delay_seconds)
            try:
                await self.prove(secret)
                return
            except ExsyncError as exc:
                last = exc
                logger.info("server %s: new secret not usable yet (attempt %d): %s", self.server.name,
                            attempt + 1, exc)
        raise _StepFailed(Step.PROVE, f"the new secret never produced a token: {last}")

    async def _finish(self, state: dict[str, Any]) -> RotationResult:
        new_key, old_key = str(state["new_key_id"]), state.get("old_key_id")
        remove_after = parse_graph_time(state.get("remove_after"))
        if remove_after and self.clock() < remove_after:
            return RotationResult(self.server.name, Outcome.NOT_DUE,
                                  f"old secret kept until {remove_after.isoformat()} (overlap)", None,
                                  new_key, old_key)
        if old_key:
            current = await self._step(Step.READ, self.vault.get_secret(self.secret_name))
            if current.version != state.get("new_version"):
                raise _StepFailed(Step.REMOVE_OLD, "the vault's current secret is not the rotated one; "
                                  "the old secret was left in place", new_key, str(old_key))
            try:
                await self._prove(current.value)
            except _StepFailed as exc:
                raise _StepFailed(Step.REMOVE_OLD, f"the current secret failed its check ({exc.message}); "
                                  "the old secret was left in place", new_key, str(old_key)) from exc
            await self._step(Step.REMOVE_OLD, self.graph.remove_password(str(state["object_id"]), str(old_key)),
                             new_key, str(old_key))
        await self.store.delete_doc(ROTATION_KIND, self.server.name)
        message = "old secret removed" if old_key else "old secret unknown: remove it from the app registration"
        return RotationResult(self.server.name, Outcome.OLD_REMOVED, message, None, new_key,
                              str(old_key) if old_key else None)

    async def _discard(self, key_id: str, object_id: str) -> None:
        """Remove a new password that never became current (best effort) and forget the attempt."""
        try:
            await self.graph.remove_password(object_id, key_id)
        except ExsyncError as exc:
            logger.warning("server %s: could not remove the unused new secret %s: %s", self.server.name,
                           key_id, exc)
        await self.store.delete_doc(ROTATION_KIND, self.server.name)

    async def _step(self, step: Step, call: Awaitable[Any], new_key: str | None = None,
                    old_key: str | None = None) -> Any:
        try:
            return await call
        except ExsyncError as exc:
            raise _StepFailed(step, str(exc), new_key, old_key) from exc

    async def _report(self, result: RotationResult) -> None:
        if result.outcome not in (Outcome.FAILED, Outcome.ROTATED, Outcome.OLD_REMOVED):
            return
        failed = result.outcome is Outcome.FAILED
        subject = (f"exsync: client secret rotation of server {self.server.name} FAILED at {result.step}"
                   if failed else f"exsync: client secret of server {self.server.name} {result.outcome.value}")
        text = (f"{subject}.\n{result.message}\nThe previous secret is still in place and working; fix the "
                "cause (see docs/credentials.md, Rotation) and the next run retries." if failed else
                f"{subject}.\n{result.message}")
        notice = Notice(EVENT, logging.ERROR if failed else logging.INFO, subject, text,
                        {"server": self.server.name, "outcome": result.outcome.value,
                         "step": result.step.value if result.step else None})
        channels = self.channels if failed else [c for c in self.channels if c.name == "log"]
        await deliver(notice, channels)


class _StepFailed(Exception):
    def __init__(self, step: Step, message: str, new_key_id: str | None = None,
                 old_key_id: str | None = None) -> None:
        super().__init__(message)
        self.step, self.message = step, message
        self.new_key_id, self.old_key_id = new_key_id, old_key_id
