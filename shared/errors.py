"""The one exception hierarchy of exsync.

Every error the application raises derives from :class:`ExsyncError`. Adapters translate
library errors into these classes with ``raise ... from exc`` so callers never depend on
azure, msgraph or httpx exception types.
"""

from __future__ import annotations


class ExsyncError(Exception):
    """Base class of every exsync error; ``fix`` says what to do when the class knows it, ``field``
    names the input it blames when there is one."""

    fix: str = ""

    def __init__(self, *args: object, field: str | None = None) -> None:
        super().__init__(*args)
        self.field = field


class ConfigurationError(ExsyncError):
    """Settings, policy or server configuration is missing or invalid."""


class ValidationFailed(ConfigurationError):
    """Input failed validation; ``errors`` maps each bad field to why and how to fix it."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = dict(errors)
        detail = "; ".join(f"{field}: {why}" for field, why in self.errors.items())
        super().__init__(f"invalid input: {detail}")


class PayloadTooLarge(ValidationFailed):
    """A request body is larger than the route accepts (HTTP 413)."""


class NotFound(ExsyncError):
    """The addressed record, mailbox or configuration does not exist."""


class UnknownMailbox(NotFound):
    """Graph knows no mailbox for the address: no such user, or the user has no Exchange Online mailbox."""

    fix = ("check the mailbox's address (its user principal name; change it with exsync mailboxes put) and that "
           "the user has an Exchange Online licence")

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.status = 404
        self.code = code


class AlreadyExists(ExsyncError):
    """A create-only write found an existing record."""


class ConcurrencyConflict(ExsyncError):
    """A conditional write failed: the stored version changed since it was read (ETag/If-Match)."""


class RemoteError(ExsyncError):
    """A remote service (Graph, the ERP, Azure) failed; ``status`` is its HTTP status if any."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class AnswerLost(RemoteError):
    """A request reached the remote service but no answer came back (the connection dropped, or the
    client's timeout ran out while the service held it): it may or may not have been applied."""

    def __init__(self, message: str) -> None:
        super().__init__(message, status=None, code="answerLost")


class Throttled(RemoteError):
    """The remote service throttled us (HTTP 429); ``retry_after`` in seconds when given."""

    def __init__(self, message: str, *, retry_after: float | None = None, status: int | None = 429) -> None:
        super().__init__(message, status=status, code="throttled")
        self.retry_after = retry_after


class AuthenticationFailed(RemoteError):
    """Credentials were rejected or a token could not be acquired (e.g. expired client secret)."""


class SyncStateLost(RemoteError):
    """A delta token / cursor is no longer valid (Graph 410 syncStateNotFound): resync fully."""


class MassDeleteBlocked(ExsyncError):
    """A run would delete more than the configured share of one side; nothing was deleted."""


class LeaseTaken(ExsyncError):
    """Another worker holds the mailbox lease."""


class ErpUnavailable(RemoteError):
    """No ERP session could be had in time (the process's session limit stayed in use)."""


class NotAuthenticated(ExsyncError):
    """The caller's token is missing, invalid, expired or not meant for exsync (HTTP 401)."""


class NotPermitted(ExsyncError):
    """The caller is authenticated but may not do this, e.g. not a synced employee (HTTP 403)."""
