"""Typed application settings, read from app settings / the environment.

Every setting the Functions app reads is declared here once, with its default and where it is set
(:data:`LOCAL` settings never reach Azure, :data:`OPTIONAL` ones may be left to their default by the
deployment); :data:`PLATFORM_SETTINGS` are those the Functions host or the Azure SDK read instead.
A test keeps this module, ``infra/main.bicep``, ``local.settings.sample.json`` and
``docs/configuration.md`` equal. Nothing is read at import time: call :func:`load_settings` (or
:meth:`Settings.from_env` with a mapping in tests). A bad value raises
:class:`shared.errors.ConfigurationError` naming the setting and the fix.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic.config import JsonDict

from shared.domain.config import NCRONTAB
from shared.errors import ConfigurationError

logger = logging.getLogger(__name__)

LOCAL: JsonDict = {"scope": "local"}        # a local run's connection strings: Azure uses identity-based endpoints
OPTIONAL: JsonDict = {"scope": "optional"}  # tuning with a good default: the deployment may leave it out
# Read by the Functions host, the Python worker or the Azure SDK, not by exsync's code:
# name -> (where it is set: "azure", "local" or "both", why).
PLATFORM_SETTINGS: dict[str, tuple[str, str]] = {
    "FUNCTIONS_WORKER_RUNTIME": ("local", "the local host's language (Flex Consumption sets it from the runtime)"),
    "AzureWebJobsFeatureFlags": ("local", "worker indexing of the v2 programming model, locally"),
    "AzureWebJobsStorage__accountName": ("azure", "the host's storage account, through the managed identity"),
    "AzureWebJobsStorage__credential": ("azure", "`managedidentity`: no storage keys"),
    "AzureWebJobsStorage__clientId": ("azure", "which user-assigned identity the host uses for storage"),
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING": ("azure", "the host sends its telemetry with Entra ID auth"),
    "PYTHON_ENABLE_OPENTELEMETRY": ("both", "the Python worker's OpenTelemetry integration: exsync's records "
                                            "carry the host invocation's trace context"),
}

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class Settings(BaseModel):
    """All app settings; field aliases are the app-setting names."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    state_connection: SecretStr | None = Field(None, alias="EXSYNC_STATE_CONNECTION", json_schema_extra=LOCAL)
    state_table_endpoint: str | None = Field(None, alias="EXSYNC_STATE_TABLE_ENDPOINT",
                                             pattern=r"^https?://")
    queue_endpoint: str | None = Field(None, alias="EXSYNC_QUEUE_ENDPOINT", pattern=r"^https?://")
    webjobs_storage: SecretStr | None = Field(None, alias="AzureWebJobsStorage", json_schema_extra=LOCAL)
    sync_queue: str = Field("exsync-sync", alias="EXSYNC_SYNC_QUEUE",
                            pattern=r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
    schedule: str = Field("0 */5 * * * *", alias="EXSYNC_SCHEDULE")
    key_vault_url: str | None = Field(None, alias="EXSYNC_KEY_VAULT_URL", pattern=r"^https://")
    client_secret_name: str | None = Field(None, alias="EXSYNC_CLIENT_SECRET_NAME")
    tenant_id: str | None = Field(None, alias="EXSYNC_TENANT_ID")
    client_id: str | None = Field(None, alias="EXSYNC_CLIENT_ID")
    managed_identity_client_id: str | None = Field(None, alias="AZURE_CLIENT_ID")
    log_retention_days: int = Field(30, alias="EXSYNC_LOG_RETENTION_DAYS", ge=30, le=3650)
    alert_emails: tuple[str, ...] = Field((), alias="EXSYNC_ALERT_EMAILS")
    alert_sender: str | None = Field(None, alias="EXSYNC_ALERT_SENDER")
    alert_webhook_url: SecretStr | None = Field(None, alias="EXSYNC_ALERT_WEBHOOK_URL")
    rotation_enabled: bool = Field(False, alias="EXSYNC_ROTATION_ENABLED")
    erp_url: str | None = Field(None, alias="EXSYNC_ERP_URL", pattern=r"^https?://")
    erp_tenant: str | None = Field(None, alias="EXSYNC_ERP_TENANT")
    erp_username: str | None = Field(None, alias="EXSYNC_ERP_USERNAME")
    erp_password: SecretStr | None = Field(None, alias="EXSYNC_ERP_PASSWORD")
    erp_max_sessions: int = Field(1, alias="EXSYNC_ERP_MAX_SESSIONS", ge=1, le=100)
    erp_max_concurrent_requests: int = Field(8, alias="EXSYNC_ERP_MAX_CONCURRENT_REQUESTS", ge=1, le=100)
    erp_webhook_secret: SecretStr | None = Field(None, alias="EXSYNC_ERP_WEBHOOK_SECRET")
    graph_notification_url: str | None = Field(None, alias="EXSYNC_GRAPH_NOTIFICATION_URL",
                                               pattern=r"^https?://")
    graph_client_state: SecretStr | None = Field(None, alias="EXSYNC_GRAPH_CLIENT_STATE", max_length=128)
    graph_timeout_seconds: float = Field(100.0, alias="EXSYNC_GRAPH_TIMEOUT_SECONDS", ge=1, le=600,
                                         json_schema_extra=OPTIONAL)  # one request's wait for Graph's answer
    appinsights_connection: SecretStr | None = Field(None, alias="APPLICATIONINSIGHTS_CONNECTION_STRING")
    table_prefix: str = Field("", alias="EXSYNC_TABLE_PREFIX", pattern=r"^([A-Za-z][A-Za-z0-9]{0,40})?$",
                              json_schema_extra=OPTIONAL)
    batch_stagger_seconds: int = Field(60, alias="EXSYNC_BATCH_STAGGER_SECONDS", ge=0, le=3600,
                                       json_schema_extra=OPTIONAL)
    lease_seconds: int = Field(660, alias="EXSYNC_LEASE_SECONDS", ge=30, le=7200, json_schema_extra=OPTIONAL)
    # Admin console sign-in (docs/console.md): the app registration people sign in to (the ID token's
    # audience; unset: EXSYNC_CLIENT_ID's) and the Entra authority (tests: a local issuer).
    console_client_id: str | None = Field(None, alias="EXSYNC_CONSOLE_CLIENT_ID")
    console_authority: str = Field("https://login.microsoftonline.com", alias="EXSYNC_CONSOLE_AUTHORITY",
                                   pattern=r"^https?://", json_schema_extra=OPTIONAL)
    # Outlook add-in API (docs/outlook-addin.md): the app registration's client id (token audience), an
    # optional app id URI, the delegated scope, the authority (tests: a local issuer); unset: no add-in.
    addin_client_id: str | None = Field(None, alias="EXSYNC_ADDIN_CLIENT_ID", json_schema_extra=OPTIONAL)
    addin_app_id_uri: str | None = Field(None, alias="EXSYNC_ADDIN_APP_ID_URI", pattern=r"^api://",
                                         json_schema_extra=OPTIONAL)
    addin_scope: str = Field("access_as_user", alias="EXSYNC_ADDIN_SCOPE", pattern=r"^[A-Za-z0-9._-]+$",
                             json_schema_extra=OPTIONAL)
    addin_authority: str = Field("https://login.microsoftonline.com", alias="EXSYNC_ADDIN_AUTHORITY",
                                 pattern=r"^https?://", json_schema_extra=OPTIONAL)
    addin_max_attachment_kb: int = Field(3072, alias="EXSYNC_ADDIN_MAX_ATTACHMENT_KB", ge=0, le=30720,
                                         json_schema_extra=OPTIONAL)

    @field_validator("schedule")
    @classmethod
    def _ncrontab(cls, value: str) -> str:
        if not NCRONTAB.match(value):
            raise ValueError("expected a six-field NCRONTAB expression, e.g. '0 */5 * * * *'")
        return value

    @field_validator("alert_emails", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.replace(";", ",").split(",") if part.strip())
        return value

    @field_validator("rotation_enabled", mode="before")
    @classmethod
    def _boolean(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip().lower()
            if text in _TRUE:
                return True
            if text in _FALSE:
                return False
            raise ValueError("expected true or false")
        return value

    # ------------------------------------------------------------ derived

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from ``environ`` (default: the process environment)."""
        source = os.environ if environ is None else environ
        names = {field.alias for field in cls.model_fields.values() if field.alias}
        data = {k: v for k, v in source.items() if k in names}
        # A blank value means "use the default": drop it before validation.
        data = {k: v for k, v in data.items() if v.strip() != ""}
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ConfigurationError(_describe(exc)) from exc

    def storage_connection(self) -> str | None:
        """Connection string for tables (and queues when no queue endpoint is set)."""
        for value in (self.state_connection, self.webjobs_storage):
            if value is not None and "=" in value.get_secret_value():
                return value.get_secret_value()
        return None

    def require(self, *names: str) -> None:
        """Raise ConfigurationError naming every listed setting (by app-setting name) that is unset."""
        missing = [type(self).model_fields[n].alias or n for n in names if getattr(self, n) in (None, "", ())]
        if missing:
            raise ConfigurationError(
                f"missing app setting(s): {', '.join(missing)}; set them in the Function App "
                "configuration (local: local.settings.json or the environment)")


    def server_defaults(self) -> dict[str, Any]:
        """What a new server gets from the deployment when its body leaves it out (PRODUCT §2).

        Tenant and client id of the app registration; the credential: the Key Vault client secret
        (``EXSYNC_KEY_VAULT_URL`` + ``EXSYNC_CLIENT_SECRET_NAME``), else, secretless, the app's
        managed identity as a federated credential (``AZURE_CLIENT_ID``); with none of them (a local
        run), the model's own default (the secret in ``EXSYNC_CLIENT_SECRET``).
        """
        out: dict[str, Any] = {}
        if self.tenant_id:
            out["tenant_id"] = self.tenant_id
        if self.client_id:
            out["client_id"] = self.client_id
        if self.key_vault_url and self.client_secret_name:
            out["credential"] = {"kind": "key_vault_secret", "vault_url": self.key_vault_url,
                                 "secret_name": self.client_secret_name}
        elif self.managed_identity_client_id and self.client_id:
            out["credential"] = {"kind": "federated_identity",
                                 "managed_identity_client_id": self.managed_identity_client_id}
        return out


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        name = ".".join(str(p) for p in err["loc"]) or "(settings)"
        msg = str(err["msg"]).removeprefix("Value error, ")
        parts.append(f"{name}: {msg}")
    return "invalid app setting(s): " + "; ".join(parts) + "; fix the value or remove it to use the default"


def load_settings() -> Settings:
    """Settings from the process environment (what the Functions host passes as app settings)."""
    return Settings.from_env()


def setting_names(scope: str | None = None) -> list[str]:
    """Every app-setting name exsync reads, in declaration order; ``scope``: only ``"local"``,
    ``"optional"`` or ``"both"`` (set locally and in Azure) ones."""
    out = []
    for field in Settings.model_fields.values():
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        if field.alias and scope in (None, extra.get("scope", "both")):
            out.append(field.alias)
    return out
