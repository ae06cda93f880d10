"""Who calls the add-in API: the Entra token rules of this installation, one validator (and key
cache) per configuration, and :class:`Employee`, the synced employee a token speaks for.

A valid token is not enough: the user must be a mailbox exsync syncs (configured under a server,
``sync`` on), because that mailbox gives the ERP employee (owner of what they create), the Graph
server to read their mail through and the policy (ERP link template). The lookup itself is
:func:`shared.admin.addin.employee`.
"""

from __future__ import annotations

import dataclasses

from shared.auth.entra import Caller, EntraConfig, EntraTokenValidator
from shared.domain.config import Mailbox, ServerConfig, SyncPolicy
from shared.settings import Settings

_VALIDATORS: dict[EntraConfig, EntraTokenValidator] = {}


@dataclasses.dataclass(frozen=True)
class Employee:
    caller: Caller
    mailbox: Mailbox
    server: ServerConfig
    policy: SyncPolicy

    @property
    def email(self) -> str:
        return self.mailbox.email


def entra_config(settings: Settings) -> EntraConfig:
    """The token rules of this installation, or ConfigurationError naming the missing settings."""
    settings.require("tenant_id", "addin_client_id")
    assert settings.tenant_id is not None and settings.addin_client_id is not None
    audiences = tuple(a for a in (settings.addin_client_id, settings.addin_app_id_uri) if a)
    return EntraConfig(tenant_id=settings.tenant_id, audiences=audiences, scope=settings.addin_scope,
                       authority=settings.addin_authority)


def validator_for(settings: Settings) -> EntraTokenValidator:
    """One validator (and key cache) per configuration, kept for the process."""
    config = entra_config(settings)
    found = _VALIDATORS.get(config)
    if found is None:
        found = _VALIDATORS[config] = EntraTokenValidator(config)
    return found
