"""JSON batching: ``POST /v1.0/$batch`` with up to 20 requests, relative URLs and ``dependsOn``.

Without ``dependsOn`` the requests run at most 4 at a time (as Outlook does); with it, in the order
given. Each one is throttled, fault-injected and journaled on its own (so one can get its own 429
while the batch answers 200). A request whose dependency failed gets 424 without running.
"""

from __future__ import annotations

import asyncio
import base64
import urllib.parse
from typing import TYPE_CHECKING, Any

from sim.graph.call import Call, Reply, ok
from sim.graph.errors import GraphError, error_body, fault_body

if TYPE_CHECKING:
    from sim.graph.state import SimState as Sim

MAX_REQUESTS = 20
PARALLEL = 4  # Outlook runs the requests of a batch without dependsOn at most 4 at a time


def _bad(message: str) -> GraphError:
    return GraphError(400, "BadRequest", message)


def _validate(requests: Any) -> list[dict[str, Any]]:
    if not isinstance(requests, list) or not requests:
        raise _bad("Invalid batch payload format: 'requests' must be a non-empty array.")
    if len(requests) > MAX_REQUESTS:
        raise _bad(f"The batch contains {len(requests)} requests; a batch may hold at most {MAX_REQUESTS}.")
    seen: set[str] = set()
    for entry in requests:
        if not isinstance(entry, dict):
            raise _bad("Invalid batch payload format: each request must be an object.")
        ident = entry.get("id")
        if not isinstance(ident, str) or not ident:
            raise _bad("Invalid batch payload format: each request needs a string 'id'.")
        if ident in seen:
            raise _bad(f"Batch request ids must be unique; '{ident}' appears twice.")
        for dep in entry.get("dependsOn") or []:
            if dep not in seen:
                raise _bad(f"Request '{ident}' depends on '{dep}', which is not an earlier request in "
                           "the batch.")
        if not isinstance(entry.get("method"), str) or not isinstance(entry.get("url"), str):
            raise _bad(f"Request '{ident}' needs 'method' and 'url'.")
        seen.add(ident)
    return requests


async def run_batch(call: Call, sim: Sim) -> Reply:
    body = call.json_object()
    requests = _validate(body.get("requests"))
    if any(entry.get("dependsOn") for entry in requests):
        responses = await _run_ordered(call, sim, requests)
    else:
        gate = asyncio.Semaphore(PARALLEL)

        async def one(entry: dict[str, Any]) -> dict[str, Any]:
            async with gate:
                return _response(entry["id"], await _run_one(call, sim, entry))

        responses = list(await asyncio.gather(*(one(entry) for entry in requests)))
    return ok({"responses": responses})


async def _run_ordered(call: Call, sim: Sim, requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    statuses: dict[str, int] = {}
    responses: list[dict[str, Any]] = []
    for entry in requests:
        ident = entry["id"]
        failed = [d for d in entry.get("dependsOn") or [] if statuses.get(d, 500) >= 400]
        if failed:
            reply = Reply(424, error_body("FailedDependency",
                                          f"The request depends on '{failed[0]}', which failed."))
            record = sim.journal_batch_item(entry, _path(entry), {}, reply.status, None)
            record["mailbox"] = sim.mailbox_of(Call("GET", _path(entry), {}, {}, None, call.base_url))
        else:
            reply = await _run_one(call, sim, entry)
        statuses[ident] = reply.status
        responses.append(_response(ident, reply))
    return responses


def _path(entry: dict[str, Any]) -> str:
    url = str(entry["url"])
    split = urllib.parse.urlsplit(url)
    path = split.path  # still percent-encoded: Call.segments decodes each segment
    if not path.startswith("/"):
        path = "/" + path
    return "/v1.0" + path if not path.lower().startswith("/v1.0/") else path


async def _run_one(call: Call, sim: Sim, entry: dict[str, Any]) -> Reply:
    """Run one batched request; its journal entry is taken when it starts (receive order)."""
    url = str(entry["url"])
    relative = not url.lower().startswith(("http://", "https://"))
    path = _path(entry) if relative else url
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query, keep_blank_values=True))
    record = sim.journal_batch_item(entry, path, query, None, None)
    headers = {str(k): str(v) for k, v in (entry.get("headers") or {}).items()}
    merged = _Headers({**{k: v for k, v in call.headers.items() if k.lower() == "prefer"}, **headers})
    inner = Call(str(entry["method"]).upper(), path, query, merged, entry.get("body"), call.base_url,
                 call.app_key)
    if not relative:
        reply = Reply(400, error_body("BadRequest", "Batch requests must use relative URLs."))
    elif inner.body is not None and not any(k.lower() == "content-type" for k in headers):
        reply = Reply(400, error_body("BadRequest",
                                      "A Content-Type header is required for a batch request with a body."))
    else:
        reply = await _faulted(sim, inner) or await sim.execute(inner)
    record["status"] = reply.status
    record["mailbox"] = sim.mailbox_of(inner) if relative else None
    return reply


async def _faulted(sim: Sim, inner: Call) -> Reply | None:
    """The reply an injected fault makes for this batched request, if one matches."""
    fault = sim.faults.take(inner.method, inner.path)
    if fault is None:
        return None
    applied = await sim.execute(inner) if fault.after else None  # a lost answer: applied, then lost
    if fault.delay_ms:
        await asyncio.sleep(fault.delay_ms / 1000)
    if not fault.drop and fault.status < 300:
        return applied
    status = fault.status if not fault.drop else 504
    headers = {"Retry-After": str(int(fault.retry_after))} if fault.retry_after is not None else {}
    return Reply(status, fault_body(status, "injected fault"), headers)


def _response(ident: str, reply: Reply) -> dict[str, Any]:
    headers = dict(reply.headers)
    out: dict[str, Any] = {"id": ident, "status": reply.status}
    if isinstance(reply.body, bytes):
        out["body"] = base64.b64encode(reply.body).decode()
    elif reply.body is not None:
        headers.setdefault("Content-Type", "application/json" if not isinstance(reply.body, str)
                           else "text/plain")
        out["body"] = reply.body
    out["headers"] = headers
    return out


class _Headers(dict[str, str]):
    """Case-insensitive header lookup for batched requests."""

    def get(self, key: str, default: Any = None) -> Any:
        lowered = key.lower()
        for name, value in self.items():
            if name.lower() == lowered:
                return value
        return default
