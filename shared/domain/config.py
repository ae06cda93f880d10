"""Configuration the admin manages: synchronization policies, servers and mailboxes.

Pydantic v2 models with ``extra="forbid"``: unknown fields and bad values raise
:class:`shared.errors.ValidationFailed` naming each field and the fix (see :func:`parse`).
Defaults are the PRODUCT defaults.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from shared.errors import ValidationFailed


class Direction(StrEnum):
    """Which way a record type flows."""

    BIDIRECTIONAL = "bidirectional"
    EXCHANGE_TO_SYSTEM = "exchange_to_system"
    SYSTEM_TO_EXCHANGE = "system_to_exchange"

    @property
    def writes_erp(self) -> bool:
        return self is not Direction.SYSTEM_TO_EXCHANGE

    @property
    def writes_mailbox(self) -> bool:
        return self is not Direction.EXCHANGE_TO_SYSTEM


class ConflictResolution(StrEnum):
    """What wins when a record changed on both sides since the last sync."""

    SYSTEM = "system"
    EXCHANGE = "exchange"
    LAST_UPDATED = "last_updated"
    KEEP_BOTH = "keep_both"
    FIELD_MERGE = "field_merge"


class ContactFilter(StrEnum):
    """Which ERP contacts a mailbox gets."""

    ALL = "all"
    OWNER = "owner"
    WORKGROUP = "workgroup"


class LoggingLevel(StrEnum):
    """Per-server log verbosity (PRODUCT §2)."""

    NONE = "none"
    DEFAULT = "default"
    INFORMATIONAL = "informational"
    VERBOSE = "verbose"


CATEGORY_COLORS: tuple[str, ...] = ("none", *(f"preset{i}" for i in range(25)))

NCRONTAB = re.compile(r"^\s*(\S+\s+){5}\S+\s*$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
HYPERLINK = re.compile(r"^https?://[^/\s]+/?$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False,
                              str_strip_whitespace=True)


class Category(_Model):
    """The category that marks records exported from the ERP."""

    name: str = Field(default="ERP", min_length=1, max_length=255)
    color: str = "preset7"

    @field_validator("color")
    @classmethod
    def _known_color(cls, value: str) -> str:
        if value not in CATEGORY_COLORS:
            raise ValueError("unknown colour; use none or preset0..preset24")
        return value


class ContactsPolicy(_Model):
    enabled: bool = True
    direction: Direction = Direction.BIDIRECTIONAL
    merge_by_email: bool = True
    folder: str | None = Field(default=None, max_length=255)
    sync_without_category: bool = False
    filter: ContactFilter = ContactFilter.OWNER
    contact_class: str | None = Field(default=None, max_length=10)
    hyperlink: str | None = None

    @field_validator("hyperlink")
    @classmethod
    def _link_template(cls, value: str | None) -> str | None:
        if value and not HYPERLINK.match(value):
            raise ValueError("expected <protocol>://<host>/, e.g. https://erp.contoso.com/")
        return value


class EmailsPolicy(_Model):
    enabled: bool = True
    direction: Direction = Direction.BIDIRECTIONAL
    folder: str = Field(default="ERP", min_length=1, max_length=255)
    sync_attachments: bool = True
    create_unknown_contacts: bool = False

    @field_validator("direction")
    @classmethod
    def _always_bidirectional(cls, value: Direction) -> Direction:
        if value is not Direction.BIDIRECTIONAL:
            raise ValueError("emails always sync bidirectional; remove the field or set bidirectional")
        return value


class TasksPolicy(_Model):
    enabled: bool = True
    direction: Direction = Direction.BIDIRECTIONAL
    folder: str | None = Field(default=None, max_length=255)
    sync_without_category: bool = False


class EventsPolicy(_Model):
    enabled: bool = True
    direction: Direction = Direction.BIDIRECTIONAL
    folder: str | None = Field(default=None, max_length=255)
    sync_without_category: bool = False


NAME = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._-]*$")]


class SyncPolicy(_Model):
    """A synchronization policy (PRODUCT §1), assigned to mailboxes."""

    name: NAME
    description: str = Field(default="", max_length=1024)
    category: Category = Category()
    conflict_resolution: ConflictResolution = ConflictResolution.LAST_UPDATED
    continue_on_error: bool = True
    contacts: ContactsPolicy = ContactsPolicy()
    emails: EmailsPolicy = EmailsPolicy()
    tasks: TasksPolicy = TasksPolicy()
    events: EventsPolicy = EventsPolicy()


class CredentialKind(StrEnum):
    KEY_VAULT_SECRET = "key_vault_secret"
    CERTIFICATE = "certificate"
    FEDERATED_IDENTITY = "federated_identity"
    ENVIRONMENT = "environment"


class KeyVaultSecretCredential(_Model):
    kind: Literal[CredentialKind.KEY_VAULT_SECRET] = CredentialKind.KEY_VAULT_SECRET
    vault_url: str = Field(pattern=r"^https://")
    secret_name: str = Field(min_length=1, max_length=127, pattern=r"^[0-9A-Za-z-]+$")


class CertificateCredential(_Model):
    kind: Literal[CredentialKind.CERTIFICATE] = CredentialKind.CERTIFICATE
    vault_url: str | None = Field(default=None, pattern=r"^https://")
    certificate_name: str | None = None
    pem_path: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> CertificateCredential:
        if bool(self.vault_url and self.certificate_name) == bool(self.pem_path):
            raise ValueError("give either vault_url + certificate_name or pem_path")
        return self


class FederatedIdentityCredential(_Model):
    kind: Literal[CredentialKind.FEDERATED_IDENTITY] = CredentialKind.FEDERATED_IDENTITY
    managed_identity_client_id: str = Field(min_length=1)


class EnvironmentCredential(_Model):
    kind: Literal[CredentialKind.ENVIRONMENT] = CredentialKind.ENVIRONMENT
    secret_setting: str = Field(default="EXSYNC_CLIENT_SECRET", min_length=1)


CredentialRef = Annotated[
    KeyVaultSecretCredential | CertificateCredential | FederatedIdentityCredential | EnvironmentCredential,
    Field(discriminator="kind"),
]

GRAPH_BASE_URL = "https://graph.microsoft.com/v1.0"


class ServerConfig(_Model):
    """An Exchange (Microsoft 365) server configuration (PRODUCT §2)."""

    name: NAME
    is_active: bool = True
    default_policy: str = "default"
    tenant_id: str = "common"
    client_id: str = ""
    credential: CredentialRef = EnvironmentCredential()
    # A host is required: "https://" alone would be stored as "https:" and fail every later read.
    graph_base_url: str = Field(default=GRAPH_BASE_URL, pattern=r"^https?://[^/\s?#]+")
    logging_level: LoggingLevel = LoggingLevel.DEFAULT
    max_attachment_kb: int = Field(default=10240, ge=0, le=150 * 1024)
    accounts_in_batch: int = Field(default=10, ge=1, le=1000)
    update_batch_size: int = Field(default=25, ge=1, le=1000)
    select_batch_size: int = Field(default=100, ge=1, le=1000)
    schedule: str = "0 */5 * * * *"
    mass_delete_threshold: float = Field(default=0.5, gt=0, le=1)
    resend_attempts: int = Field(default=3, ge=1, le=20)   # transactional mail: attempts before Failed
    suspend_sending: bool = False                            # transactional mail: stop every system mailbox

    @field_validator("schedule")
    @classmethod
    def _ncrontab(cls, value: str) -> str:
        if not NCRONTAB.match(value):
            raise ValueError("expected a six-field NCRONTAB expression, e.g. '0 */5 * * * *'")
        return value

    @field_validator("graph_base_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")


class Mailbox(_Model):
    """One employee's mailbox under a server (PRODUCT §2)."""

    email: str
    server: NAME
    employee_id: str = Field(min_length=1, max_length=30)
    employee_name: str = ""
    sync: bool = True
    policy: str | None = None

    @field_validator("email")
    @classmethod
    def _address(cls, value: str) -> str:
        if not EMAIL.match(value):
            raise ValueError("expected the mailbox UPN, e.g. ann@contoso.com")
        return value.lower()

    def policy_name(self, server: ServerConfig) -> str:
        """The mailbox's own policy, or the server's default policy."""
        return self.policy or server.default_policy


M = TypeVar("M", bound=BaseModel)


def _field_path(loc: tuple[int | str, ...]) -> str:
    parts = [str(p) for p in loc if not (isinstance(p, str) and p in {
        "key_vault_secret", "certificate", "federated_identity", "environment"})]
    return ".".join(parts) or "(body)"


def validation_errors(exc: ValidationError) -> dict[str, str]:
    """Pydantic errors as {dotted field: reason and fix}."""
    out: dict[str, str] = {}
    for err in exc.errors():
        field = _field_path(tuple(err["loc"]))
        if err["type"] == "extra_forbidden":
            msg = "unknown field; remove it"
        else:
            msg = str(err["msg"]).removeprefix("Value error, ")
        out[field] = f"{out[field]}; {msg}" if field in out else msg
    return out


def parse(model: type[M], data: Any) -> M:
    """Validate ``data`` into ``model`` or raise ValidationFailed naming every bad field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed(validation_errors(exc)) from exc
