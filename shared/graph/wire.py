"""Wire helpers: Graph URLs per record type, model <-> JSON, and Graph errors -> exsync errors.

Owns the resource paths exsync uses (one table per record type), the ``Prefer`` headers sent on
every request, serialising msgraph-sdk models to JSON for ``$batch`` bodies, parsing JSON back into
models, and translating kiota/httpx failures into :mod:`shared.errors` (``raise ... from``).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from kiota_abstractions.api_error import APIError
from kiota_abstractions.serialization import Parsable
from kiota_serialization_json.json_parse_node import JsonParseNode
from kiota_serialization_json.json_serialization_writer import JsonSerializationWriter
from msgraph.generated.models.contact import Contact as GraphContact
from msgraph.generated.models.event import Event as GraphEvent
from msgraph.generated.models.message import Message as GraphMessage
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.todo_task import TodoTask

from shared.domain.records import RecordType
from shared.errors import (
    AlreadyExists,
    AnswerLost,
    AuthenticationFailed,
    ConcurrencyConflict,
    ExsyncError,
    NotFound,
    RemoteError,
    SyncStateLost,
    Throttled,
    UnknownMailbox,
    ValidationFailed,
)
from shared.graph.pacing import retry_after_seconds

P = TypeVar("P", bound=Parsable)

IMMUTABLE_ID = 'IdType="ImmutableId"'
UTC_TIMES = 'outlook.timezone="UTC"'
TEXT_BODIES = 'outlook.body-content-type="text"'
PREFER = (IMMUTABLE_ID, UTC_TIMES, TEXT_BODIES)
"""Preferences sent on every request (ids that survive moves, UTC times, text bodies)."""

ERROR_MAPPING: dict[str, type[Parsable]] = {"XXX": ODataError}
ANSWER_LOST = (httpx.ReadTimeout, httpx.WriteTimeout, httpx.RemoteProtocolError, httpx.ReadError)
"""Failures after the request went out: it may have been applied (:class:`shared.errors.AnswerLost`)."""


def seg(value: str) -> str:
    """One URL path segment (ids may hold ``/``, ``+`` and ``=``)."""
    return quote(value, safe="@=")


@dataclasses.dataclass(frozen=True, slots=True)
class Resource:
    """Where one record type lives in a mailbox, as paths relative to the Graph base URL."""

    record_type: RecordType
    model: type[GraphContact] | type[GraphMessage] | type[GraphEvent] | type[TodoTask]
    container_set: str          # e.g. contactFolders
    items: str                  # collection under a container, e.g. contacts
    stamped_by_property: bool   # False: To Do (linkedResource)

    def containers(self, mailbox: str) -> str:
        if self.record_type is RecordType.TASK:
            return f"/users/{seg(mailbox)}/todo/lists"
        return f"/users/{seg(mailbox)}/{self.container_set}"

    def collection(self, mailbox: str, container: str) -> str:
        return f"{self.containers(mailbox)}/{seg(container)}/{self.items}"

    def item(self, mailbox: str, container: str, item_id: str) -> str:
        """The item's path; tasks need their list, the others are addressed mailbox-wide."""
        if self.record_type is RecordType.TASK:
            return f"{self.collection(mailbox, container)}/{seg(item_id)}"
        return f"/users/{seg(mailbox)}/{self.items}/{seg(item_id)}"

    def item_in(self, mailbox: str, container: str, item_id: str) -> str:
        """The item's path under its container (a GET here fails when it is elsewhere)."""
        return f"{self.collection(mailbox, container)}/{seg(item_id)}"


RESOURCES: dict[RecordType, Resource] = {
    RecordType.CONTACT: Resource(RecordType.CONTACT, GraphContact, "contactFolders", "contacts", True),
    RecordType.EMAIL: Resource(RecordType.EMAIL, GraphMessage, "mailFolders", "messages", True),
    RecordType.EVENT: Resource(RecordType.EVENT, GraphEvent, "calendars", "events", True),
    RecordType.TASK: Resource(RecordType.TASK, TodoTask, "lists", "tasks", False),
}


# ------------------------------------------------------------------ JSON <-> models


def to_json(model: Parsable) -> dict[str, Any]:
    """A model as the JSON object msgraph-sdk would send."""
    writer = JsonSerializationWriter()
    writer.write_object_value(None, model)
    data = json.loads(writer.get_serialized_content())
    if not isinstance(data, dict):
        raise TypeError(f"{type(model).__name__} did not serialise to a JSON object")
    return data


def action_json(model: Parsable) -> dict[str, Any]:
    """An action's parameters as documented (camelCase).

    msgraph-sdk serialises action parameters in PascalCase (``Message``, ``SaveToSentItems``);
    Graph matches them case-insensitively, the docs and strict servers use camelCase.
    """
    return {key[:1].lower() + key[1:]: value for key, value in to_json(model).items()}


def from_json(data: Any, factory: type[P]) -> P:
    """A JSON object parsed into a model through msgraph-sdk's deserialisers."""
    value: P | None = JsonParseNode(data).get_object_value(factory)
    if value is None:
        raise RemoteError("Graph answered without a body")
    return value


# ------------------------------------------------------------------ errors


def error_from_status(status: int, code: str, message: str, retry_after: float | None = None) -> ExsyncError:
    """The exsync error for a Graph error answer."""
    text = f"Graph {status} {code}: {message}".strip()
    if status == 410 or code.lower() in {"syncstatenotfound", "syncstateinvalid", "resyncrequired"}:
        return SyncStateLost(text, status=status, code=code or "syncStateNotFound")
    if status == 404 and code in ("ErrorInvalidUser", "MailboxNotEnabledForRESTAPI"):
        return UnknownMailbox(text, code=code)
    if status == 404:
        return NotFound(text)
    if status == 412 or code == "ErrorIrresolvableConflict":
        return ConcurrencyConflict(text)
    if status == 409:
        return AlreadyExists(text)
    if status == 429:
        return Throttled(text, retry_after=retry_after)
    if status in (401, 403):
        return AuthenticationFailed(text, status=status, code=code)
    return RemoteError(text, status=status, code=code)


def translate(exc: Exception) -> ExsyncError:
    """An exsync error for a failure raised by kiota or httpx."""
    if isinstance(exc, ExsyncError):
        return exc
    if isinstance(exc, APIError):
        status = int(exc.response_status_code or 0)
        code, message = "", str(exc.message or "")
        if isinstance(exc, ODataError) and exc.error is not None:
            code, message = exc.error.code or "", exc.error.message or message
        headers = exc.response_headers or {}
        retry = retry_after_seconds(_header(headers, "retry-after"))
        return error_from_status(status, code, message, retry)
    if isinstance(exc, ANSWER_LOST):
        return AnswerLost(f"Graph sent no answer: {type(exc).__name__}")
    if isinstance(exc, httpx.HTTPError):
        return RemoteError(f"Graph unreachable: {type(exc).__name__}: {exc}")
    if isinstance(exc, ValueError):
        return ValidationFailed({"record": str(exc)})
    return RemoteError(f"unexpected failure talking to Graph: {type(exc).__name__}: {exc}")


def _header(headers: Any, name: str) -> str | None:
    try:
        items = dict(headers).items()
    except (TypeError, ValueError):
        return None
    for key, value in items:
        if str(key).lower() == name:
            if isinstance(value, list | set | tuple):
                return str(next(iter(value), "")) or None
            return str(value)
    return None


def batch_error(status: int, body: Any, headers: dict[str, str]) -> ExsyncError:
    """The exsync error for one failed ``$batch`` response item."""
    code, message = "", ""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        code = str(body["error"].get("code") or "")
        message = str(body["error"].get("message") or "")
    retry = retry_after_seconds(next((v for k, v in headers.items() if k.lower() == "retry-after"), None))
    return error_from_status(status, code, message, retry)
