"""What the batch runner does with a ``$batch`` step whose answer was lost: the pure decision table.

A lost answer (:class:`shared.errors.AnswerLost`: the connection dropped, or the client's timeout ran
out while Graph held the request) leaves every step of that ``$batch`` POST in doubt: Graph may have
applied it or not. Within the run, after a bounded backoff, each step is settled by this table:

=====================================  ===========  ==================================================
step                                   action       why
=====================================  ===========  ==================================================
GET                                    RESEND       a read repeats safely
PATCH / PUT                            RESEND       the same body twice leaves the same item; an
                                                    If-Match the first attempt outdated answers 412,
                                                    a conflict the next run re-reads
DELETE                                 RESEND       a 404 on the resend means the first one deleted it
POST create with a stamp look-up       LOOK_UP      find the item by its ERP stamp: found, it is the
                                                    created item; not found, RESEND
POST create Graph de-duplicates        RESEND       events carry a transactionId: Graph answers a
                                                    repeat with the event it made
any other POST (sendMail, cancel, an   GIVE_UP      repeating could send or create twice: reported
unstamped create)                                   failed; the engine's intent resolves it next run
=====================================  ===========  ==================================================

:func:`settled_status` is the second table: the answer to a resent step that means it is done.
"""

from __future__ import annotations

import enum

LOST_ATTEMPTS = 3          # rounds after the first lost answer, then the steps are reported failed
BACKOFF_SECONDS = 0.5      # first wait; doubles each round
MAX_BACKOFF_SECONDS = 4.0


class Lost(enum.Enum):
    RESEND = "resend"
    LOOK_UP = "look up"
    GIVE_UP = "give up"


REPEATABLE_METHODS = frozenset({"GET", "PATCH", "PUT", "DELETE"})


def after_lost(method: str, *, guarded: bool, deduplicated: bool) -> Lost:
    """The action for a step whose answer was lost (see the module table)."""
    if method.upper() in REPEATABLE_METHODS:
        return Lost.RESEND
    if guarded:
        return Lost.LOOK_UP
    if deduplicated:
        return Lost.RESEND
    return Lost.GIVE_UP


def settled_status(method: str, status: int) -> int:
    """The status to report for a resent step: a DELETE answered 404 was done by the lost attempt."""
    if method.upper() == "DELETE" and status == 404:
        return 204
    return status


def backoff(round_no: int) -> float:
    """Seconds to wait before recovery round ``round_no`` (1-based), doubling up to a cap."""
    return min(MAX_BACKOFF_SECONDS, BACKOFF_SECONDS * 2.0 ** (round_no - 1))
