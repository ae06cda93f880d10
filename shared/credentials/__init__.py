"""Credentials: token providers, secret expiry alerts, rotation and the configuration review.

Modules: ``providers`` (credential reference -> token credential), ``vault`` (Key Vault),
``graph_admin`` (app registration and mail calls), ``expiry`` + ``alerts`` (days left, once-only
alerts), ``rotation`` (opt-in secret rotation), ``doctor`` (configuration review), ``service``
(wiring from settings and the runtime).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shared.domain.config import ServerConfig


def graph_credential(server: ServerConfig, settings: Any = None) -> Any:
    """The Graph token credential of ``server`` (imports the SDKs on first use only)."""
    from shared.credentials.service import graph_credential as build

    return build(server, settings)
