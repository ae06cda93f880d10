"""Resolving a mailbox's server and effective policy (the server's default when it has none)."""

from __future__ import annotations

from shared.domain.config import Mailbox, ServerConfig, SyncPolicy
from shared.errors import NotFound
from shared.ports import ConfigStore, Stored

DEFAULT_POLICY = "default"


def effective_policy(stored: Stored[SyncPolicy] | None, name: str) -> SyncPolicy | None:
    """The stored policy, or the built-in PRODUCT defaults for the name ``default``."""
    if stored is not None:
        return stored.value
    if name == DEFAULT_POLICY:
        return SyncPolicy(name=DEFAULT_POLICY)
    return None


async def policy_named(store: ConfigStore, name: str) -> SyncPolicy | None:
    """The stored policy, or the built-in PRODUCT defaults for the name ``default``."""
    return effective_policy(await store.get_policy(name), name)


async def mailbox_context(store: ConfigStore, email: str) -> tuple[Mailbox, ServerConfig, SyncPolicy]:
    """Mailbox, its server and its effective policy, in one read; NotFound names what is missing."""
    found = await store.get_mailbox_context(email.lower())
    if found.mailbox is None:
        raise NotFound(f"mailbox {email} is not configured; add it with PUT /api/servers/<server>/mailboxes/"
                       f"{email}")
    mailbox = found.mailbox.value
    if found.server is None:
        raise NotFound(f"server {mailbox.server} of mailbox {email} does not exist; create it with PUT "
                       f"/api/servers/{mailbox.server} or move the mailbox to another server")
    name = mailbox.policy_name(found.server.value)
    policy = effective_policy(found.policy, name)
    if policy is None:
        raise NotFound(f"policy {name} of mailbox {email} does not exist; create it or change the mailbox")
    return mailbox, found.server.value, policy
