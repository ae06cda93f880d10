"""JSON ``$batch``: built by hand (msgraph-core's batch helper is broken) and sent through the adapter.

Owns the batch wire format: up to 20 requests per POST, each ``{id, method, url, headers, body}``
with a URL relative to the version root; replies come back in any order and are mapped back to
the steps in order. A step answered 429 (or 503/504) inside a 200 batch is not retried by the
SDK: we resend those steps after their ``Retry-After`` (pausing the mailbox's pacer), a bounded
number of rounds, then report the last answer.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from typing import Any

from kiota_abstractions.method import Method

from shared.errors import RemoteError
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
            answers = await self._post(mailbox, [(i, steps[i]) for i in pending])
            retry: list[int] = []
            wait = 0.0
            for i in pending:
                reply = answers[i]
                final[i] = reply
                if reply.status in RETRY_STATUSES and round_no < self.max_rounds:
                    retry.append(i)
                    after = retry_after_seconds(_get(reply.headers, "retry-after"))
                    wait = max(wait, after if after is not None else self.fallback_delay * round_no)
            if not retry:
                break
            self.rounds_retried += 1
            logger.info("batch for %s: %d of %d steps throttled; resending after %.1fs",
                        mailbox, len(retry), len(pending), wait)
            self.http.pacer.mailbox(mailbox).pause(wait)
            await asyncio.sleep(wait)
            pending = retry
        return [final[i] for i in range(len(steps))]

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


def _get(headers: dict[str, str], name: str) -> str | None:
    return next((v for k, v in headers.items() if k.lower() == name), None)
