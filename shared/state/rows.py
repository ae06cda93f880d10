"""Azure Table rows for the state store: error translation and JSON-in-properties entities.

:func:`translate` / :func:`mapped` turn azure errors into :mod:`shared.errors` (``raise ... from``);
:func:`with_text` / :func:`text_of` split JSON text over string properties ``d0..dN`` (``n`` = count)
so a value may exceed the 64 KiB property limit up to :data:`shared.state.rules.MAX_TEXT_CHARS`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)

from shared.errors import (
    AlreadyExists,
    AuthenticationFailed,
    ConcurrencyConflict,
    ConfigurationError,
    ExsyncError,
    RemoteError,
    Throttled,
)
from shared.state import rules

Entity = dict[str, Any]


# ---------------------------------------------------------------- errors


def _code(exc: AzureError) -> str:
    code = getattr(exc, "error_code", None)
    return str(getattr(code, "value", code) or "")


def missing_table(exc: AzureError, creating: bool) -> bool:
    code = _code(exc)
    return code == "TableNotFound" or (creating and getattr(exc, "status_code", None) == 404 and not code)


def translate(exc: AzureError, what: str, *, creating: bool = False) -> ExsyncError:
    """The shared.errors equivalent of an azure error about ``what``."""
    code = _code(exc)
    status = getattr(exc, "status_code", None)
    if missing_table(exc, creating):
        return ConfigurationError(f"the state table for {what} does not exist; call create_tables() first")
    if isinstance(exc, ResourceExistsError) or code == "EntityAlreadyExists":
        return AlreadyExists(f"{what} already exists; read it and pass its etag to replace it")
    if (isinstance(exc, ResourceModifiedError | ResourceNotFoundError) or status in (404, 412)
            or code in ("UpdateConditionNotSatisfied", "ResourceNotFound")):
        return ConcurrencyConflict(f"{what} changed since it was read (stale etag); read it again")
    if isinstance(exc, ClientAuthenticationError) or status in (401, 403):
        return AuthenticationFailed(f"table storage rejected the credentials for {what}", status=status)
    if status in (429, 503):
        return Throttled(f"table storage is busy ({status}) for {what}", status=status)
    if isinstance(exc, HttpResponseError):
        return RemoteError(f"table storage failed for {what}: {code or status}", status=status, code=code)
    return RemoteError(f"table storage unreachable for {what}: {type(exc).__name__}")


@contextmanager
def mapped(what: str, *, creating: bool = False) -> Iterator[None]:
    try:
        yield
    except AzureError as exc:
        raise translate(exc, what, creating=creating) from exc


# ---------------------------------------------------------------- entity helpers


def with_text(entity: Entity, text: str) -> Entity:
    """``entity`` plus ``text`` split over string properties d0..dN."""
    step = rules.CHUNK_CHARS
    parts = [text[i:i + step] for i in range(0, len(text), step)] or [""]
    entity["n"] = len(parts)
    for i, part in enumerate(parts):
        entity[f"d{i}"] = part
    return entity


def text_of(entity: Mapping[str, Any]) -> str:
    return "".join(str(entity[f"d{i}"]) for i in range(int(entity["n"])))


def etag_of(entity: Any) -> str:
    return str(entity.metadata["etag"])


def row(partition: str, row: str, **props: Any) -> Entity:
    return {"PartitionKey": partition, "RowKey": row, **props}
