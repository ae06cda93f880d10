"""Who may do what in the console: a pure decision table over (scope, caller, method, CSRF).

Read it top to bottom; the first matching row decides. ``None`` in a row matches anything.
"""

from __future__ import annotations

import dataclasses
from enum import StrEnum


class Scope(StrEnum):
    PUBLIC = "public"     # static files and the sign-in endpoint
    SESSION = "session"   # the caller's own session (sign out): any signed-in caller, with CSRF
    CONSOLE = "console"   # every page and action


class Caller(StrEnum):
    ANONYMOUS = "anonymous"   # no valid session cookie
    NO_ROLE = "no_role"       # signed in, neither Exsync.Admin nor Exsync.Reader
    READER = "reader"
    ADMIN = "admin"


class Verdict(StrEnum):
    ALLOW = "allow"
    SIGN_IN = "sign_in"           # GET without a session: redirect to sign-in
    UNAUTHENTICATED = "401"       # a change without a session
    NO_ROLE = "403_no_role"       # signed in but not given a console role
    CSRF = "403_csrf"             # a change without the session's CSRF token
    READ_ONLY = "403_read_only"   # a Reader tried to change something


@dataclasses.dataclass(frozen=True, slots=True)
class Row:
    scope: Scope | None
    caller: Caller | None
    safe: bool | None       # GET/HEAD
    csrf_ok: bool | None
    verdict: Verdict


P, S, C = Scope.PUBLIC, Scope.SESSION, Scope.CONSOLE
TABLE: tuple[Row, ...] = (
    Row(P, None, None, None, Verdict.ALLOW),
    Row(None, Caller.ANONYMOUS, True, None, Verdict.SIGN_IN),
    Row(None, Caller.ANONYMOUS, False, None, Verdict.UNAUTHENTICATED),
    Row(None, None, False, False, Verdict.CSRF),                 # every change needs the token
    Row(S, None, False, True, Verdict.ALLOW),                    # anyone signed in may sign out
    Row(None, Caller.NO_ROLE, None, None, Verdict.NO_ROLE),
    Row(C, None, True, None, Verdict.ALLOW),                     # Reader and Admin read everything
    Row(C, Caller.READER, False, True, Verdict.READ_ONLY),
    Row(C, Caller.ADMIN, False, True, Verdict.ALLOW),
    Row(S, None, True, None, Verdict.ALLOW),
)


def decide(*, scope: Scope, caller: Caller, safe: bool, csrf_ok: bool) -> Verdict:
    for row in TABLE:
        if ((row.scope is None or row.scope == scope) and (row.caller is None or row.caller == caller)
                and (row.safe is None or row.safe == safe) and (row.csrf_ok is None or row.csrf_ok == csrf_ok)):
            return row.verdict
    raise AssertionError("the access table covers every case")  # pragma: no cover
