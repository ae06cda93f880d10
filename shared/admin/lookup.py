"""Resolving a mailbox's server and effective policy (the server's default when it has none)."""

from __future__ import annotations

from shared.domain.config import Mailbox, ServerConfig, SyncPolicy
from shared.errors import NotFound
from shared.ports import ConfigStore

DEFAULT_POLICY = "default"


async def policy_named(store: ConfigStore, name: str) -> SyncPolicy | None:
    """The stored policy, or the built-in PRODUCT defaults for the name ``default``."""
    stored = await store.get_policy(name)
    if stored is not None:
        return stored.value
    if name == DEFAULT_POLICY:
        return SyncPolicy(name=DEFAULT_POLICY)
    return None


async def mailbox_context(store: ConfigStore, email: str) -> tuple[Mailbox, ServerConfig, SyncPolicy]:
    """Mailbox, its server and its effective policy; NotFound names what is missing."""
    stored = await store.get_mailbox(email.lower())
    if stored is None:
        raise NotFound(f"mailbox {email} is not configured; add it with PUT /api/servers/<server>/mailboxes/"
                       f"{email}")
    mailbox = stored.value
    server = await store.get_server(mailbox.server)
    if server is None:
        raise NotFound(f"server {mailbox.server} of mailbox {email} does not exist")
    name = mailbox.policy_name(server.value)
    policy = await policy_named(store, name)
    if policy is None:
        raise NotFound(f"policy {name} of mailbox {email} does not exist; create it or change the mailbox")
    return mailbox, server.value, policy
