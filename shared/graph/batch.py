"""JSON ``$batch``: built by hand (msgraph-core's batch helper is broken) and sent through the adapter.

Owns the batch wire format: up to 20 requests per POST, each ``{id, method, url, headers, body}``
with a URL relative to the version root; replies come back in any order and are mapped back to
the steps in order. A step answered 429 (or 503/504) inside a 200 batch is not retried by the
SDK: we resend those steps after their ``Retry-After`` (pausing the mailbox's pacer), a bounded
number of rounds, then report the last answer. A ``$batch`` whose answer was lost (a dropped
connection, a timeout) is settled step by step by :mod:`shared.graph.recovery` within the call.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from typing import Any

from kiota_abstractions.method import Method

from shared.errors import AnswerLost, RemoteError
from shared.graph import recovery
from shared.graph.client import GraphHttp
from shared.graph.pacing import retry_after_seconds
from shared.graph.wire import PREFER

logger = logging.getLogger(__name__)

MAX_BATCH = 20
RETRY_STATUSES = frozenset({429, 503, 504})


@dataclasses.dataclass(frozen=True, slots=True)
class Step:
    """One request of a batch."""

    method: str
    url: str                                   # relative to the version root, e.g. /users/x/contacts
    body: dict[str, Any] | None = None
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    lookup: Step | None = None   # a create's stamp look-up: a GET whose ``value`` holds the item if it landed
    deduplicated: bool = False   # Graph answers a repeat of this create with the first one's item

    @property
    def after_lost(self) -> recovery.Lost:
        return recovery.after_lost(self.method, guarded=self.lookup is not None, deduplicated=self.deduplicated)

    def wire(self, step_id: str, prefer: str) -> dict[str, Any]:
        headers = {"Prefer": prefer, **self.headers}
        entry: dict[str, Any] = {"id": step_id, "method": self.method, "url": self.url}
        if self.body is not None:
            headers.setdefault("Content-Type", "application/json")
            entry["body"] = self.body
        entry["headers"] = headers
        return entry


@dataclasses.dataclass(frozen=True, slots=True)
class Reply:
    """One answer of a batch."""

    status: int
    headers: dict[str, str]
    body: Any
    resent: bool = False  # the answer to a resend after a lost answer (a 412 may be the lost attempt's doing)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class BatchRunner:
    """Sends steps as ``$batch`` requests of one mailbox, retrying throttled steps."""

    def __init__(self, http: GraphHttp, *, size: int = MAX_BATCH, max_rounds: int = 6,
                 fallback_delay: float = 1.0) -> None:
        self.http = http
        self.size = max(1, min(size, MAX_BATCH))
        self.max_rounds = max_rounds
        self.fallback_delay = fallback_delay
        self.rounds_retried = 0
        self.answers_lost = 0

    async def run(self, mailbox: str, steps: list[Step]) -> list[Reply]:
        """One reply per step, in order (chunks of ``size`` sent one after another)."""
        replies: list[Reply] = []
        for start in range(0, len(steps), self.size):
            replies += await self._run_chunk(mailbox, steps[start:start + self.size])
        return replies

    async def _run_chunk(self, mailbox: str, steps: list[Step]) -> list[Reply]:
        final: dict[int, Reply] = {}
        pending = list(range(len(steps)))
        for round_no in range(1, self.max_rounds + 1):
            answers = await self._post_recovering(mailbox, [(i, steps[i]) for i in pending])
            retry: list[int] = []
            lost: list[tuple[int, Step]] = []
            wait = 0.0
            for i in pending:
                reply = answers[i]
                final[i] = reply
                if round_no == self.max_rounds or reply.status not in RETRY_STATUSES:
                    continue
                if reply.status == 504 and steps[i].after_lost is not recovery.Lost.RESEND:
                    lost.append((i, steps[i]))  # a gateway timeout: the step may have been applied
                    continue
                retry.append(i)
                after = retry_after_seconds(_get(reply.headers, "retry-after"))
                wait = max(wait, after if after is not None else self.fallback_delay * round_no)
            retry = sorted(retry + await self._settle_timed_out(mailbox, lost, final))
            if not retry:
                break
            self.rounds_retried += 1
            logger.info("batch for %s: %d of %d steps throttled; resending after %.1fs",
                        mailbox, len(retry), len(pending), wait)
            self.http.pacer.mailbox(mailbox).pause(wait)
            await asyncio.sleep(wait)
            pending = retry
        return [final[i] for i in range(len(steps))]

    async def _post_recovering(self, mailbox: str, steps: list[tuple[int, Step]]) -> dict[int, Reply]:
        """:meth:`_post`, settling the steps of a lost answer by :mod:`shared.graph.recovery`."""
        try:
            return await self._post(mailbox, steps)
        except AnswerLost as exc:
            lost = exc
        out: dict[int, Reply] = {}
        for round_no in range(1, recovery.LOST_ATTEMPTS + 1):
            todo = [(i, step) for i, step in steps if i not in out]
            wait = recovery.backoff(round_no)
            logger.info("batch for %s: answer lost (%s); settling %d steps after %.1fs (round %d of %d)",
                        mailbox, lost, len(todo), wait, round_no, recovery.LOST_ATTEMPTS)
            self.answers_lost += 1
            await asyncio.sleep(wait)
            try:
                resend = await self._settle(mailbox, todo, out)
                answers = await self._post(mailbox, resend) if resend else {}
            except AnswerLost as exc:
                lost = exc
                continue
            for i, step in resend:
                reply = answers[i]
                out[i] = dataclasses.replace(reply, status=recovery.settled_status(step.method, reply.status),
                                             resent=True)
            return out
        for i, _ in steps:
            out.setdefault(i, _lost_reply(lost))
        return out

    async def _settle_timed_out(self, mailbox: str, lost: list[tuple[int, Step]],
                                final: dict[int, Reply]) -> list[int]:
        """Steps answered 504 inside a batch, settled like a lost answer: the indexes to resend."""
        if not lost:
            return []
        logger.info("batch for %s: %d steps answered 504 (outcome unknown); settling them", mailbox, len(lost))
        self.answers_lost += 1
        timed_out = {i: final.pop(i) for i, _ in lost}
        for round_no in range(recovery.LOST_ATTEMPTS + 1):  # the look-up, then as many again as a lost answer
            if round_no:
                wait = recovery.backoff(round_no)
                logger.info("batch for %s: look-up answer lost; looking again after %.1fs (round %d of %d)",
                            mailbox, wait, round_no, recovery.LOST_ATTEMPTS)
                await asyncio.sleep(wait)
            try:
                resend = await self._settle(mailbox, lost, final)
            except AnswerLost:
                continue
            return [i for i, _ in resend]
        final.update(timed_out)  # every look-up's answer was lost: report the 504s
        return []

    async def _settle(self, mailbox: str, todo: list[tuple[int, Step]],
                      out: dict[int, Reply]) -> list[tuple[int, Step]]:
        """Record the given-up and found steps in ``out``; the steps to resend."""
        resend: list[tuple[int, Step]] = []
        look: list[tuple[int, Step]] = []
        for i, step in todo:
            action = step.after_lost
            if action is recovery.Lost.GIVE_UP:
                out[i] = _lost_reply(None)
            elif action is recovery.Lost.LOOK_UP and step.lookup is not None:
                look.append((i, step.lookup))
            else:
                resend.append((i, step))
        found = await self._post(mailbox, look) if look else {}
        by_index = dict(todo)
        for i, _ in look:
            reply = found[i]
            items = reply.body.get("value") if reply.ok and isinstance(reply.body, dict) else None
            if not reply.ok or not isinstance(items, list):
                out[i] = reply  # the look-up failed: report its answer, the intent stays for the next run
            elif items:
                out[i] = Reply(201, {}, items[0])
            else:
                resend.append((i, by_index[i]))
        return sorted(resend, key=lambda pair: pair[0])

    async def _post(self, mailbox: str, steps: list[tuple[int, Step]]) -> dict[int, Reply]:
        prefer = ", ".join(PREFER)
        body = {"requests": [step.wire(str(i), prefer) for i, step in steps]}
        info = self.http.request(Method.POST, "/$batch", mailbox,
                                 raw_body=json.dumps(body).encode(), cost=len(steps))
        raw = await self.http.send_bytes(info)
        try:
            answer = json.loads(raw)
            responses = answer["responses"]
        except (ValueError, KeyError, TypeError) as exc:
            raise RemoteError("Graph $batch answered without a responses array") from exc
        out: dict[int, Reply] = {}
        for entry in responses:
            try:
                index = int(entry["id"])
            except (KeyError, TypeError, ValueError):
                continue
            headers = {str(k): str(v) for k, v in (entry.get("headers") or {}).items()}
            out[index] = Reply(int(entry.get("status", 500)), headers, entry.get("body"))
        for index, _ in steps:
            out.setdefault(index, Reply(500, {}, {"error": {
                "code": "missingBatchResponse", "message": "no answer for this batch step"}}))
        return out


def _lost_reply(exc: AnswerLost | None) -> Reply:
    detail = f" ({exc})" if exc is not None else ""
    return Reply(504, {}, {"error": {"code": "answerLost", "message": "the answer to this request was lost"
                                     f"{detail}; repeating it could apply it twice"}})


def _get(headers: dict[str, str], name: str) -> str | None:
    return next((v for k, v in headers.items() if k.lower() == name), None)
