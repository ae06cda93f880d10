"""Building the console for the Function App, or installing a local one.

Sign-in uses the tenant ``EXSYNC_TENANT_ID`` and the app registration ``EXSYNC_CONSOLE_CLIENT_ID``
(default: ``EXSYNC_CLIENT_ID``), which has the app roles ``Exsync.Admin`` and ``Exsync.Reader``, ID
tokens enabled and the web redirect URI ``https://<app>/console/signin``; ID tokens are checked
by :class:`shared.auth.entra.EntraIdTokenValidator` against ``EXSYNC_CONSOLE_AUTHORITY``.

The key that signs sessions and CSRF tokens is no setting: 32 random bytes created on first use
and kept in the state store (document kind ``console``, key ``session``), so nothing new has to be
deployed; deleting that document signs everyone out.
"""

from __future__ import annotations

import base64
import contextlib
import secrets

from shared.auth.entra import EntraIdTokenValidator
from shared.console.app import Console
from shared.console.session import SessionCodec
from shared.console.signin import DevSignIn, EntraSignIn, TokenValidator
from shared.errors import AlreadyExists, ConfigurationError
from shared.ports import DocumentStore
from shared.runtime import Runtime

KIND, KEY = "console", "session"

_installed: Console | None = None


def use_console(console: Console | None) -> None:
    """Install (or with None, forget) the console every request uses (the local host and tests)."""
    global _installed
    _installed = console


def development_console() -> Console:
    """A fresh random session key and the development sign-in (``make serve`` only)."""
    return Console(SessionCodec(secrets.token_bytes(32)), DevSignIn())


async def session_key(store: DocumentStore) -> bytes:
    """The stored signing key, created once (create-only: concurrent first requests agree)."""
    stored = await store.get_doc(KIND, KEY)
    if stored is None:
        with contextlib.suppress(AlreadyExists):  # another instance made it first: use theirs
            await store.put_doc(KIND, KEY, {"key": base64.b64encode(secrets.token_bytes(32)).decode()})
        stored = await store.get_doc(KIND, KEY)
    if stored is None or not stored.value.get("key"):
        raise ConfigurationError("the console's session key could not be stored in the state store")
    return base64.b64decode(stored.value["key"])


async def console_for(rt: Runtime, validator: TokenValidator | None = None) -> Console:
    """The production console: Entra sign-in with this deployment's settings."""
    settings = rt.settings
    tenant, client = settings.tenant_id, settings.console_client_id or settings.client_id
    if not tenant or not client:
        raise ConfigurationError("the console signs people in with an Entra app registration: set "
                                 "EXSYNC_TENANT_ID and EXSYNC_CONSOLE_CLIENT_ID (or EXSYNC_CLIENT_ID)")
    checker = validator or EntraIdTokenValidator(tenant, settings.console_authority)
    sign_in = EntraSignIn(tenant, client, checker, authority=settings.console_authority)
    return Console(SessionCodec(await session_key(rt.state)), sign_in)


async def current_console(rt: Runtime) -> Console:
    global _installed
    if _installed is None:
        _installed = await console_for(rt)
    return _installed
