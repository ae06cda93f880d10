"""The console's forms: fields grouped like the ERP's screens, and pure conversions.

A form field's ``name`` is the dotted path of the API's JSON body (``contacts.folder``), which is
also how the API names a field in a validation error, so an error lands next to its input. The
conversion to a body is pure (:func:`body_from_form`); validation stays in the API's models.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any

from shared.domain.config import (
    CATEGORY_COLORS,
    ConflictResolution,
    ContactFilter,
    CredentialKind,
    Direction,
    LoggingLevel,
)
from shared.mailproc.model import AfterProcessing, ClosedCase, NewConversation, UnknownSender


class Kind(StrEnum):
    TEXT = "text"
    LONG_TEXT = "long_text"
    NUMBER = "number"
    BOOL = "bool"
    CHOICE = "choice"
    LIST = "list"        # a JSON list of short strings, typed comma-separated


@dataclasses.dataclass(frozen=True, slots=True)
class Field:
    name: str
    label: str
    kind: Kind = Kind.TEXT
    choices: tuple[str, ...] = ()
    blank_is_none: bool = False   # an empty input means "not set" (null)
    hint: str = ""
    labels: tuple[str, ...] = ()  # the words shown for ``choices`` (same order); empty: the values

    def option_label(self, choice: str) -> str:
        """What the option of ``choice`` says: its words, or the value itself (names, colours)."""
        if choice in self.choices and len(self.labels) == len(self.choices):
            return self.labels[self.choices.index(choice)]
        return choice or "(none)"

    @property
    def input_id(self) -> str:
        return "f-" + self.name.replace(".", "-").replace("_", "-")


@dataclasses.dataclass(frozen=True, slots=True)
class Group:
    title: str
    fields: tuple[Field, ...]


def _values(enum: type[StrEnum]) -> tuple[str, ...]:
    return tuple(e.value for e in enum)


# Option words of the coded settings (the ERP form's wording where it has one); a value missing
# here is shown with its underscores as spaces.
_WORDS = {
    "bidirectional": "Bidirectional", "exchange_to_system": "Exchange to ERP",
    "system_to_exchange": "ERP to Exchange", "system": "ERP wins", "exchange": "Exchange wins",
    "last_updated": "Last updated wins", "keep_both": "Keep both", "field_merge": "Merge fields",
    "create_case": "A case", "create_lead": "A lead", "associate_contact": "An activity of the contact",
    "contact": "Create a contact", "lead": "Create a lead", "reopen": "Reopen the case",
    "new_case": "Open a new case", "keep": "Leave it as it is", "mark_read": "Mark it read",
    "move": "Move it to a folder", "delete": "Delete it",
}


def words(value: str | None) -> str:
    """A coded setting's value as the console says it (a list column, an option)."""
    if not value:
        return "(none)"
    return _WORDS.get(value, value.replace("_", " ").capitalize())


def _choice(name: str, label: str, enum: type[StrEnum], **kw: Any) -> Field:
    """A choice of a coded setting: the values are the API's, the options say them in words."""
    values = _values(enum)
    return Field(name, label, Kind.CHOICE, values, labels=tuple(words(v) for v in values), **kw)


def _type_fields(prefix: str, *, folder_required: bool = False) -> tuple[Field, ...]:
    return (Field(f"{prefix}.enabled", "Synchronize", Kind.BOOL),
            _choice(f"{prefix}.direction", "Direction", Direction),
            Field(f"{prefix}.folder", "Folder", blank_is_none=not folder_required,
                  hint="" if folder_required else "empty: the mailbox's default folder"))


POLICY_FORM: tuple[Group, ...] = (
    Group("Summary", (
        Field("name", "Policy ID"),
        Field("description", "Description", Kind.LONG_TEXT),
        _choice("conflict_resolution", "Conflict resolution", ConflictResolution),
        Field("continue_on_error", "Continue on error", Kind.BOOL),
        Field("category.name", "Category"),
        Field("category.color", "Category colour", Kind.CHOICE, CATEGORY_COLORS),
    )),
    Group("Contacts", (
        *_type_fields("contacts"),
        Field("contacts.merge_by_email", "Merge contacts by email", Kind.BOOL),
        Field("contacts.sync_without_category", "Sync contacts without category", Kind.BOOL),
        Field("contacts.filter", "Contacts to export", Kind.CHOICE, _values(ContactFilter)),
        Field("contacts.contact_class", "Contact class for new contacts", blank_is_none=True),
        Field("contacts.hyperlink", "Hyperlink template", blank_is_none=True, hint="e.g. https://erp.contoso.com/"),
    )),
    Group("Email", (
        *_type_fields("emails", folder_required=True),
        Field("emails.sync_attachments", "Sync attachments", Kind.BOOL),
        Field("emails.create_unknown_contacts", "Create unknown contacts", Kind.BOOL),
    )),
    Group("Tasks", (*_type_fields("tasks"), Field("tasks.sync_without_category", "Sync tasks without category",
                                                  Kind.BOOL))),
    Group("Events", (*_type_fields("events"), Field("events.sync_without_category", "Sync events without category",
                                                    Kind.BOOL))),
)

CREDENTIAL_FIELDS: Mapping[str, tuple[str, ...]] = {
    CredentialKind.KEY_VAULT_SECRET.value: ("vault_url", "secret_name"),
    CredentialKind.CERTIFICATE.value: ("vault_url", "certificate_name", "pem_path"),
    CredentialKind.FEDERATED_IDENTITY.value: ("managed_identity_client_id",),
    CredentialKind.ENVIRONMENT.value: ("secret_setting",),
}


def server_form(policies: Iterable[str]) -> tuple[Group, ...]:
    """SM204015's groups; the default policy is chosen from the policies that exist."""
    return (
        Group("Summary", (
            Field("name", "Server ID"),
            Field("is_active", "Active", Kind.BOOL),
            Field("default_policy", "Default policy", Kind.CHOICE, tuple(sorted({"default", *policies}))),
            Field("logging_level", "Logging level", Kind.CHOICE, _values(LoggingLevel)),
        )),
        Group("Connection", (
            Field("tenant_id", "Tenant ID"),
            Field("client_id", "Application (client) ID"),
            Field("graph_base_url", "Graph base URL"),
            Field("credential.kind", "Credential", Kind.CHOICE, _values(CredentialKind),
                  hint="a reference only: the secret itself stays in Key Vault or an app setting"),
            Field("credential.vault_url", "Key Vault URL", hint="key_vault_secret, certificate"),
            Field("credential.secret_name", "Secret name", hint="key_vault_secret"),
            Field("credential.certificate_name", "Certificate name", hint="certificate"),
            Field("credential.pem_path", "PEM path", hint="certificate (instead of Key Vault)"),
            Field("credential.managed_identity_client_id", "Managed identity client ID", hint="federated_identity"),
            Field("credential.secret_setting", "App setting holding the secret", hint="environment"),
        )),
        Group("Synchronization", (
            Field("schedule", "Schedule (NCRONTAB)"),
            Field("accounts_in_batch", "Accounts in batch", Kind.NUMBER),
            Field("update_batch_size", "Update batch size", Kind.NUMBER),
            Field("select_batch_size", "Select batch size", Kind.NUMBER),
            Field("max_attachment_kb", "Max attachment size (KB)", Kind.NUMBER),
            Field("mass_delete_threshold", "Mass delete threshold (0-1)", Kind.NUMBER),
        )),
    )


def _template_fields(prefix: str, label: str) -> tuple[Field, ...]:
    return (Field(f"{prefix}.subject", f"{label}: subject", blank_is_none=True, hint="empty: RE: {subject}"),
            Field(f"{prefix}.body", f"{label}: text", Kind.LONG_TEXT, blank_is_none=True,
                  hint="empty: no automatic reply; placeholders {case_id}, {subject}, {sender_name}"))


def system_mailbox_form(servers: Iterable[str]) -> tuple[Group, ...]:
    """PRODUCT §7–§8: the system e-mail account's incoming processing and transactional mail."""
    return (
        Group("Summary", (
            Field("address", "Mailbox address"),
            Field("server", "Server", Kind.CHOICE, tuple(sorted(servers))),
            Field("display_name", "Display name"),
            Field("active", "Active", Kind.BOOL),
        )),
        Group("Incoming processing", (
            Field("incoming.enabled", "Process incoming mail", Kind.BOOL),
            _choice("incoming.new_conversation", "A new conversation becomes", NewConversation),
            Field("incoming.case_class", "Case class", blank_is_none=True,
                  hint="required when a new conversation becomes a case"),
            Field("incoming.lead_class", "Lead class", blank_is_none=True),
            _choice("incoming.unknown_sender", "Unknown sender", UnknownSender),
            Field("incoming.route_employee_mail", "Process mail from employees", Kind.BOOL),
            _choice("incoming.closed_case", "Reply to a closed case", ClosedCase),
            Field("incoming.tag_prefix", "Subject tag prefix"),
            Field("incoming.default_owner", "Default owner", blank_is_none=True),
            Field("incoming.default_workgroup", "Default workgroup", blank_is_none=True),
            Field("incoming.allowed_attachment_types", "Allowed attachment types", Kind.LIST,
                  hint="comma-separated extensions, e.g. pdf, png; empty: any"),
            Field("incoming.max_attachment_kb", "Max attachment size (KB)", Kind.NUMBER),
            _choice("incoming.after_processing", "After processing", AfterProcessing),
            Field("incoming.move_to_folder", "Move to folder", blank_is_none=True,
                  hint="required when mail is moved after processing"),
        )),
        Group("Automatic replies", (
            Field("incoming.reply_address", "Reply address", blank_is_none=True, hint="empty: the mailbox itself"),
            *_template_fields("incoming.confirm_receipt", "Confirm receipt"),
            *_template_fields("incoming.reply_to_unassigned", "Reply when unassigned"),
        )),
        Group("Transactional mail", (
            Field("sending.erp_account_id", "ERP system e-mail account ID", Kind.NUMBER,
                  hint="empty: this mailbox sends no ERP mail"),
            Field("sending.suspended", "Sending suspended", Kind.BOOL),
            Field("sending.max_message_mb", "Largest message the mailbox may send (MB)", Kind.NUMBER),
        )),
    )


# Optional objects of a form: all inputs empty means the object is not set (null); otherwise
# its empty inputs are left out so the API's defaults apply.
OPTIONAL_SECTIONS = ("incoming.confirm_receipt", "incoming.reply_to_unassigned")


MAILBOX_FORM: tuple[Field, ...] = (
    Field("email", "Mailbox (UPN)"),
    Field("employee_id", "Employee ID"),
    Field("employee_name", "Employee name"),
    Field("policy", "Policy", Kind.CHOICE, blank_is_none=True, hint="empty: the server's default policy"),
    Field("sync", "Synchronize", Kind.BOOL),
)


def fields_of(groups: Iterable[Group]) -> list[Field]:
    return [f for g in groups for f in g.fields]


def value_at(data: Mapping[str, Any], dotted: str) -> Any:
    """``data["a"]["b"]`` for ``"a.b"``; None when any part is missing."""
    current: Any = data
    for part in dotted.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return None
        current = current[part]
    return current


def _put_at(body: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    target = body
    for part in parents:
        target = target.setdefault(part, {})
    target[last] = value


def _checked(raw: list[str] | None) -> bool:
    return bool(raw) and (raw or [""])[-1] not in ("", "false", "off")


def _converted(field: Field, raw: list[str] | None) -> tuple[bool, Any]:
    """(include it, value) for one field of a submitted form."""
    if field.kind is Kind.BOOL:
        return True, _checked(raw)
    text = (raw or [""])[-1].strip()
    if text == "":
        if field.blank_is_none:
            return True, None
        return field.kind in (Kind.TEXT, Kind.LONG_TEXT), ""   # an empty number means "the default"
    if field.kind is Kind.NUMBER:
        return True, _number(text)
    if field.kind is Kind.LIST:
        return True, [part.strip() for part in text.split(",") if part.strip()]
    return True, text


def _number(text: str) -> int | float | str:
    """A typed number for the API's strict bodies; text that is no number stays text for the API to name."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def body_from_form(fields: Iterable[Field], form: Mapping[str, list[str]]) -> dict[str, Any]:
    """The API body a submitted form stands for. Credential fields of other kinds are dropped."""
    body: dict[str, Any] = {}
    kind = (form.get("credential.kind") or [""])[-1]
    for field in fields:
        if field.name.startswith("credential.") and field.name != "credential.kind":
            if field.name.removeprefix("credential.") not in CREDENTIAL_FIELDS.get(kind, ()):
                continue
            if not (form.get(field.name) or [""])[-1].strip():
                continue
        include, value = _converted(field, form.get(field.name))
        if include:
            _put_at(body, field.name, value)
    for section in OPTIONAL_SECTIONS:
        _prune(body, section)
    return body


def _prune(body: dict[str, Any], dotted: str) -> None:
    """An optional object whose inputs are all empty becomes null; otherwise its empty inputs go."""
    *parents, last = dotted.split(".")
    parent: Any = body
    for part in parents:
        parent = parent.get(part) if isinstance(parent, dict) else None
    section = parent.get(last) if isinstance(parent, dict) else None
    if not isinstance(section, dict):
        return
    given = {k: v for k, v in section.items() if v is not None}
    parent[last] = given or None


def form_values(fields: Iterable[Field], data: Mapping[str, Any]) -> dict[str, Any]:
    """Current values by field name for rendering (from a stored record or a rejected submission)."""
    return {f.name: _shown(f, value_at(data, f.name)) for f in fields}


def _shown(field: Field, value: Any) -> Any:
    return ", ".join(map(str, value)) if field.kind is Kind.LIST and isinstance(value, list | tuple) else value


def submitted_values(fields: Iterable[Field], form: Mapping[str, list[str]]) -> dict[str, Any]:
    """What the admin typed, to re-render a rejected form without losing anything."""
    out: dict[str, Any] = {}
    for field in fields:
        raw = form.get(field.name)
        out[field.name] = _checked(raw) if field.kind is Kind.BOOL else (raw or [""])[-1]
    return out


def errors_by_field(fields: Iterable[Field], api_fields: Mapping[str, str] | None) -> tuple[dict[str, str], list[str]]:
    """API validation errors split into those next to an input and the rest (shown above the form)."""
    known = {f.name for f in fields}
    by_field: dict[str, str] = {}
    other: list[str] = []
    for name, message in (api_fields or {}).items():
        target = name if name in known else next((k for k in known if name.startswith(k + ".")), None)
        if target is None:
            other.append(f"{name}: {message}")
        else:
            by_field[target] = f"{by_field[target]}; {message}" if target in by_field else message
    return by_field, other
