"""Building the console for the Function App from app settings, or installing a local one.

Settings (all optional until the console is used):

- ``EXSYNC_CONSOLE_SESSION_KEY``: at least 32 characters; signs session cookies and CSRF tokens
  (a Key Vault reference in Azure). Without it the console answers 503 naming the setting.
- ``EXSYNC_CONSOLE_TENANT_ID`` and ``EXSYNC_CONSOLE_CLIENT_ID``: the Entra app registration people
  sign in with (app roles ``Exsync.Admin`` and ``Exsync.Reader``, ID tokens enabled, redirect URI
  ``https://<app>/api/console/signin``).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping

from shared.console.app import Console
from shared.console.session import SessionCodec
from shared.console.signin import DevSignIn, EntraSignIn, TokenValidator
from shared.errors import ConfigurationError

_installed: Console | None = None


def use_console(console: Console | None) -> None:
    """Install (or with None, forget) the console every request uses (the local host and tests)."""
    global _installed
    _installed = console


def development_console() -> Console:
    """A fresh random session key and the development sign-in (``make serve`` only)."""
    return Console(SessionCodec(secrets.token_bytes(32)), DevSignIn())


def console_from_env(env: Mapping[str, str] | None = None, validator: TokenValidator | None = None) -> Console:
    env = os.environ if env is None else env
    key = env.get("EXSYNC_CONSOLE_SESSION_KEY", "")
    if len(key) < 32:
        raise ConfigurationError("EXSYNC_CONSOLE_SESSION_KEY must be set to at least 32 random characters "
                                 "(a Key Vault reference) to use the console")
    tenant, client = env.get("EXSYNC_CONSOLE_TENANT_ID", ""), env.get("EXSYNC_CONSOLE_CLIENT_ID", "")
    if not tenant or not client:
        raise ConfigurationError("EXSYNC_CONSOLE_TENANT_ID and EXSYNC_CONSOLE_CLIENT_ID must name the console's "
                                 "Entra app registration")
    return Console(SessionCodec(key.encode()), EntraSignIn(tenant, client, validator))


def current_console() -> Console:
    global _installed
    if _installed is None:
        _installed = console_from_env()
    return _installed
