"""The console's access table, row by row, and that it covers every combination."""

from __future__ import annotations

import itertools

import pytest

from shared.console.access import Caller, Scope, Verdict, decide

A, R, N, X = Caller.ADMIN, Caller.READER, Caller.NO_ROLE, Caller.ANONYMOUS
CASES = [
    # scope, caller, safe, csrf_ok -> verdict
    (Scope.PUBLIC, X, True, False, Verdict.ALLOW),
    (Scope.PUBLIC, X, False, False, Verdict.ALLOW),        # the Entra form_post callback
    (Scope.CONSOLE, X, True, False, Verdict.SIGN_IN),
    (Scope.CONSOLE, X, False, True, Verdict.UNAUTHENTICATED),
    (Scope.CONSOLE, N, True, False, Verdict.NO_ROLE),
    (Scope.CONSOLE, N, False, True, Verdict.NO_ROLE),
    (Scope.CONSOLE, R, True, False, Verdict.ALLOW),
    (Scope.CONSOLE, A, True, False, Verdict.ALLOW),
    (Scope.CONSOLE, R, False, False, Verdict.CSRF),
    (Scope.CONSOLE, A, False, False, Verdict.CSRF),
    (Scope.CONSOLE, R, False, True, Verdict.READ_ONLY),
    (Scope.CONSOLE, A, False, True, Verdict.ALLOW),
    (Scope.SESSION, R, False, True, Verdict.ALLOW),         # a reader may sign out
    (Scope.SESSION, N, False, True, Verdict.ALLOW),
    (Scope.SESSION, A, False, False, Verdict.CSRF),         # but not be signed out by another site
    (Scope.SESSION, X, False, True, Verdict.UNAUTHENTICATED),
]


@pytest.mark.parametrize(("scope", "caller", "safe", "csrf_ok", "verdict"), CASES)
def test_decision(scope: Scope, caller: Caller, safe: bool, csrf_ok: bool, verdict: Verdict) -> None:
    assert decide(scope=scope, caller=caller, safe=safe, csrf_ok=csrf_ok) is verdict


def test_every_combination_is_decided_and_no_change_passes_without_admin_and_token() -> None:
    for scope, caller, safe, csrf_ok in itertools.product(Scope, Caller, (True, False), (True, False)):
        verdict = decide(scope=scope, caller=caller, safe=safe, csrf_ok=csrf_ok)
        if scope is Scope.CONSOLE and not safe and verdict is Verdict.ALLOW:
            assert caller is Caller.ADMIN and csrf_ok
