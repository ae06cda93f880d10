"""Machinery both simulators share: fault injection, the request journal, admin routes, start-up.

Fault spec (``POST /_sim/faults``)::

    {"path": <regex searched in the request path>, "method": <optional verb>,
     "status": <HTTP code>, "count": <n, default 1>, "retry_after": <seconds, optional>,
     "delay_ms": <optional>, "drop": <bool, optional: close the connection without answering>,
     "after": <bool, optional: serve the request first, then delay / drop / replace the answer>,
     "skip": <n, optional: let the first n matching requests through untouched>}

The next ``count`` matching requests (after ``skip`` of them) fail that way. ``after`` is a lost answer:
the request is applied, the client never hears (a stall is ``delay_ms`` beyond the client's timeout).
The journal (``GET /_sim/requests``) lists every request the simulator served, oldest first.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import re
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

ErrorBody = Callable[[int, str], dict[str, Any]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ADMIN_PREFIX = "/_sim"


class SpecError(ValueError):
    """An admin request body is invalid; the message names the field."""


@dataclasses.dataclass
class Fault:
    path: re.Pattern[str]
    method: str | None
    status: int
    count: int
    retry_after: float | None = None
    delay_ms: int = 0
    drop: bool = False
    after: bool = False
    skip: int = 0

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method.upper()) and bool(self.path.search(path))


def parse_fault(spec: Any) -> Fault:
    """Validate a fault spec, raising SpecError naming the bad field."""
    if not isinstance(spec, dict):
        raise SpecError("body: expected a JSON object")
    unknown = set(spec) - {"path", "method", "status", "count", "retry_after", "delay_ms", "drop", "after",
                        "skip"}
    if unknown:
        raise SpecError(f"{sorted(unknown)[0]}: unknown field")
    try:
        pattern = re.compile(str(spec["path"]))
    except KeyError as exc:
        raise SpecError("path: required (a regex searched in the request path)") from exc
    except re.error as exc:
        raise SpecError(f"path: invalid regex ({exc})") from exc
    drop = bool(spec.get("drop", False))
    status = spec.get("status", 0 if drop else None)
    if not isinstance(status, int) or (not drop and not 100 <= status <= 599):
        raise SpecError("status: required HTTP status code 100..599")
    count = spec.get("count", 1)
    if not isinstance(count, int) or count < 1:
        raise SpecError("count: expected a positive integer")
    retry_after = spec.get("retry_after")
    if retry_after is not None and (not isinstance(retry_after, int | float) or retry_after < 0):
        raise SpecError("retry_after: expected seconds >= 0")
    delay = spec.get("delay_ms", 0)
    if not isinstance(delay, int) or delay < 0:
        raise SpecError("delay_ms: expected milliseconds >= 0")
    after = spec.get("after", False)
    if not isinstance(after, bool):
        raise SpecError("after: expected true or false")
    skip = spec.get("skip", 0)
    if not isinstance(skip, int) or isinstance(skip, bool) or skip < 0:
        raise SpecError("skip: expected an integer >= 0")
    method = spec.get("method")
    return Fault(pattern, method.upper() if isinstance(method, str) else None, status, count,
                 retry_after, delay, drop, after, skip)


class FaultBook:
    """Pending faults, consumed first-come by matching requests (thread- and task-safe)."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, method: str, path: str) -> Fault | None:
        """The first fault matching this request, with one use consumed (a fault still skipping lets
        the request through to the faults after it)."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    if fault.skip > 0:
                        fault.skip -= 1
                        continue
                    fault.count -= 1
                    if fault.count <= 0:
                        self._faults.remove(fault)
                    return fault
        return None


class Journal:
    """Every served request, oldest first."""

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    def record(self, **entry: Any) -> None:
        self.entries.append(entry)

    def clear(self) -> None:
        self.entries.clear()


def decode_body(raw: bytes) -> Any:
    """A request body for the journal: JSON if it parses, else text, else None."""
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        try:
            return raw.decode()
        except UnicodeDecodeError:
            return f"<{len(raw)} bytes>"


async def apply_fault(request: web.Request, fault: Fault, error_body: ErrorBody) -> web.StreamResponse:
    """Answer a request the way ``fault`` says (delay, drop or error status)."""
    if fault.delay_ms:
        await asyncio.sleep(fault.delay_ms / 1000)
    if fault.drop:
        if request.transport is not None:
            request.transport.abort()
        raise ConnectionResetError("connection dropped by an injected fault")
    headers = {}
    if fault.retry_after is not None:
        headers["Retry-After"] = str(int(fault.retry_after) if float(fault.retry_after).is_integer()
                                     else fault.retry_after)
    if fault.status < 300:  # a delay-only fault: answer normally afterwards
        raise _PassThrough
    return web.json_response(error_body(fault.status, "injected fault"), status=fault.status,
                             headers=headers)


class _PassThrough(Exception):
    pass


def fault_middleware(book: FaultBook, error_body: ErrorBody) -> Any:
    """aiohttp middleware: injected faults for every non-admin request."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith(ADMIN_PREFIX):
            fault = book.take(request.method, request.path)
            if fault is not None and fault.after:
                answer = await handler(request)
                try:
                    return await apply_fault(request, fault, error_body)
                except _PassThrough:
                    return answer
            if fault is not None:
                try:
                    return await apply_fault(request, fault, error_body)
                except _PassThrough:
                    pass
        return await handler(request)

    return middleware


def add_admin_routes(app: web.Application, book: FaultBook, journal: Journal) -> None:
    """``POST/DELETE /_sim/faults`` and ``GET /_sim/requests``."""

    async def post_fault(request: web.Request) -> web.Response:
        try:
            fault = parse_fault(await request.json())
        except (SpecError, ValueError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        book.add(fault)
        return web.json_response({"ok": True}, status=201)

    async def delete_faults(_: web.Request) -> web.Response:
        book.clear()
        return web.json_response({"ok": True})

    async def get_requests(_: web.Request) -> web.Response:
        return web.json_response(journal.entries)

    app.router.add_post(f"{ADMIN_PREFIX}/faults", post_fault)
    app.router.add_delete(f"{ADMIN_PREFIX}/faults", delete_faults)
    app.router.add_get(f"{ADMIN_PREFIX}/requests", get_requests)


def serve(app: web.Application, host: str, port: int, name: str) -> None:
    """Run ``app`` until interrupted; print one ``ready`` line with the base URL once it accepts requests."""

    async def main() -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        print(f"{name} ready http://{host}:{port}", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
