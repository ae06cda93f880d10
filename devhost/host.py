"""A small local Functions host serving the SAME function objects as Azure, without Core Tools.

- HTTP triggers under ``http://127.0.0.1:<port>/<routePrefix>/<route>`` (``routePrefix`` from
  ``host.json``: empty, the API's routes carry ``api/`` themselves); routes use the Functions template
  syntax (``{name}``, ``{name?}``, ``{*rest}``); auth level FUNCTION/ADMIN needs the function key
  in the ``x-functions-key`` header or ``?code=`` (401 otherwise), ANONYMOUS needs none.
- Timer triggers on their NCRONTAB schedules (``%SETTING%`` resolved from the app settings; like
  the Functions host, a binding whose setting is missing stops the host from starting:
  :class:`MissingSetting` names every one).
- Queue triggers: a poller per queue (base64 messages, ``dequeue_count``, ``maxDequeueCount`` from
  ``host.json`` then the message moves to ``<queue>-poison``; a failed message becomes visible
  again after ``visibilityTimeout``).
- ``POST /admin/functions/<name>`` (with the key) runs any non-HTTP function now, like the
  Functions admin API; ``GET /admin/functions`` lists them.

Functions are collected once per app object with ``app.get_functions()``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import hmac
import json
import logging
import os
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import azure.functions as func
from aiohttp import web
from azure.core.exceptions import ResourceExistsError
from azure.functions.queue import QueueMessage
from azure.functions.timer import TimerRequest
from azure.storage.queue.aio import QueueClient
from multidict import CIMultiDict

from shared.admin.ncrontab import Schedule

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
_SETTING = re.compile(r"%([A-Za-z0-9_]+)%")


class MissingSetting(KeyError):
    """Bindings refer to app settings that are not set (the Functions host refuses to start too)."""

    def __init__(self, missing: dict[str, list[str]]) -> None:
        self.missing = missing
        detail = "; ".join(f"{name} (used by {', '.join(sorted(fns))})" for name, fns in sorted(missing.items()))
        super().__init__(f"app setting(s) not set: {detail}; set them in local.settings.json or the environment, "
                         "as the deployment sets them in Azure (docs/configuration.md)")

    def __str__(self) -> str:
        return str(self.args[0])


_COLLECTED: dict[int, tuple[func.FunctionApp, list[Any]]] = {}


def functions_of(app: func.FunctionApp) -> list[Any]:
    """``app.get_functions()``, called once per app object (a second call fails on duplicate names)."""
    hit = _COLLECTED.get(id(app))
    if hit is None or hit[0] is not app:
        hit = (app, list(app.get_functions()))
        _COLLECTED[id(app)] = hit
    return hit[1]


def resolve(text: str, env: Mapping[str, str]) -> str:
    """Replace ``%NAME%`` with the app setting; :class:`MissingSetting` when it is unset or empty."""
    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        value = env.get(name)
        if not value:
            raise MissingSetting({name: [text]})
        return value
    return _SETTING.sub(one, text)


def route_prefix(path: Path = ROOT / "host.json") -> str:
    """``extensions.http.routePrefix`` of host.json (the Functions default ``api`` when unset)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return str(data.get("extensions", {}).get("http", {}).get("routePrefix", "api")).strip("/")


def route_regex(template: str) -> re.Pattern[str]:
    """A Functions route template as a regex with named groups."""
    out, pos = "", 0
    for match in re.finditer(r"/?\{(\*?)(\w+)(\??)(?::[^}]*)?\}", template):
        out += re.escape(template[pos:match.start()])
        slash = "/" if match.group(0).startswith("/") else ""
        body = f"(?P<{match.group(2)}>.+)" if match.group(1) else f"(?P<{match.group(2)}>[^/]+)"
        optional = match.group(3) or match.group(1)   # like ASP.NET routing, a catch-all may be empty
        out += f"(?:{re.escape(slash)}{body})?" if optional else re.escape(slash) + body
        pos = match.end()
    out += re.escape(template[pos:])
    return re.compile(f"^{out}\\Z", re.IGNORECASE)


@dataclasses.dataclass
class HttpFunction:
    name: str
    fn: Callable[..., Any]
    regex: re.Pattern[str]
    methods: set[str]
    anonymous: bool
    arg: str


@dataclasses.dataclass
class TimerFunction:
    name: str
    fn: Callable[..., Any]
    schedule: Schedule
    run_on_startup: bool


@dataclasses.dataclass
class QueueFunction:
    name: str
    fn: Callable[..., Any]
    queue: str


@dataclasses.dataclass
class QueueOptions:
    """The ``extensions.queues`` section of host.json."""

    max_dequeue_count: int = 5
    visibility_timeout: int = 30
    max_polling_interval: float = 2.0
    batch_size: int = 4

    @classmethod
    def from_host_json(cls, path: Path = ROOT / "host.json") -> QueueOptions:
        def seconds(text: str, default: float) -> float:
            parts = str(text).split(":")
            return float(int(parts[0]) * 3600 + int(parts[1]) * 60 + float(parts[2])) if len(parts) == 3 else default
        try:
            q = json.loads(path.read_text())["extensions"]["queues"]
        except (OSError, KeyError, ValueError):
            return cls()
        return cls(int(q.get("maxDequeueCount", 5)), int(seconds(q.get("visibilityTimeout", ""), 30)),
                   seconds(q.get("maxPollingInterval", ""), 2.0), int(q.get("batchSize", 4)))


class LocalHost:
    """Serves one FunctionApp: HTTP, timers and queue triggers."""

    def __init__(self, app: func.FunctionApp, *, function_key: str, storage_connection: str,
                 env: Mapping[str, str] | None = None, host: str = "127.0.0.1", port: int = 7071,
                 queue_options: QueueOptions | None = None, timers: bool = True) -> None:
        self.key = function_key
        self.conn = storage_connection
        self.env = dict(os.environ if env is None else env)
        self.host, self.port = host, port
        self.options = queue_options or QueueOptions.from_host_json()
        self.prefix = route_prefix()
        self.enable_timers = timers
        self.http: list[HttpFunction] = []
        self.timers: dict[str, TimerFunction] = {}
        self.queues: dict[str, QueueFunction] = {}
        self._collect(app)
        self._tasks: list[asyncio.Task[None]] = []
        self._runner: web.AppRunner | None = None
        self.invocations: dict[str, int] = {}

    # ------------------------------------------------------------ collection

    def _collect(self, app: func.FunctionApp) -> None:
        missing: dict[str, list[str]] = {}
        for fn in functions_of(app):
            try:
                self._collect_one(fn)
            except MissingSetting as exc:
                for name in exc.missing:
                    missing.setdefault(name, []).append(fn.get_function_name())
        if missing:
            raise MissingSetting(missing)

    def _collect_one(self, fn: Any) -> None:
        trigger = fn.get_trigger().get_dict_repr()
        name, user = fn.get_function_name(), fn.get_user_function()
        kind = trigger["type"]
        if kind == "httpTrigger":
            level = str(getattr(trigger.get("authLevel"), "value", trigger.get("authLevel") or "function"))
            methods = {str(getattr(m, "value", m)).upper() for m in trigger.get("methods") or []}
            route = "/".join(p for p in (self.prefix, trigger.get("route") or name) if p)
            self.http.append(HttpFunction(name, user, route_regex(route),
                                          methods or {"GET", "POST"}, level.lower() == "anonymous",
                                          trigger["name"]))
        elif kind == "timerTrigger":
            self.timers[name] = TimerFunction(name, user, Schedule.parse(resolve(trigger["schedule"], self.env)),
                                              bool(trigger.get("runOnStartup")))
        elif kind == "queueTrigger":
            self.queues[name] = QueueFunction(name, user, resolve(trigger["queueName"], self.env))
        else:
            logger.warning("function %s has an unsupported trigger %s; not served", name, kind)

    # ------------------------------------------------------------ lifecycle

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/admin/functions", self._list_functions)
        app.router.add_post("/admin/functions/{name}", self._run_function)
        app.router.add_route("*", "/{tail:[\\s\\S]*}", self._serve_http)  # a %0A in a path is still a path
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        for q in self.queues.values():
            self._tasks.append(asyncio.create_task(self._poll(q), name=f"queue-{q.name}"))
        if self.enable_timers:
            for t in self.timers.values():
                self._tasks.append(asyncio.create_task(self._tick(t), name=f"timer-{t.name}"))
        logger.info("local host on %s: %d http, %d timer, %d queue function(s)", self.base_url,
                    len(self.http), len(self.timers), len(self.queues))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ------------------------------------------------------------ HTTP

    def _authorized(self, request: web.Request) -> bool:
        given = request.headers.get("x-functions-key") or request.query.get("code") or ""
        return hmac.compare_digest(given.encode(), self.key.encode())

    async def _serve_http(self, request: web.Request) -> web.StreamResponse:
        tail = request.match_info["tail"]
        matched = [(h, m) for h in self.http if (m := h.regex.match(tail))]
        if not matched:
            return web.json_response({"error": "not_found", "message": f"no function at /{tail}"}, status=404)
        allowed = [(h, m) for h, m in matched if request.method.upper() in h.methods]
        if not allowed:
            allow = ", ".join(sorted({m for h, _ in matched for m in h.methods}))
            return web.json_response({"error": "method_not_allowed", "fields": [],
                                      "message": f"{request.method} is not allowed on /{tail}; use {allow}"},
                                     status=405, headers={"Allow": allow})
        target, match = allowed[0]
        if not target.anonymous and not self._authorized(request):
            return web.Response(status=401)
        body = await request.read()
        params = {k: v for k, v in request.query.items() if k != "code"}
        route = {k: v for k, v in match.groupdict().items() if v is not None}
        req = func.HttpRequest(request.method, str(request.url), headers=dict(request.headers),
                               params=params, route_params=route, body=body)
        self.invocations[target.name] = self.invocations.get(target.name, 0) + 1
        try:
            resp: func.HttpResponse = await target.fn(**{target.arg: req})
        except Exception:
            logger.exception("function %s failed", target.name)
            return web.Response(status=500)
        # a list, not a dict: a response may set several cookies (one Set-Cookie header each)
        headers = CIMultiDict((k, v) for k, v in resp.headers.items()
                              if k.lower() not in ("content-type", "content-length"))
        content_type = resp.mimetype or "text/plain"
        return web.Response(body=resp.get_body(), status=resp.status_code, headers=headers,
                            content_type=content_type, charset=resp.charset or "utf-8")

    async def _list_functions(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.Response(status=401)
        return web.json_response({"http": [h.name for h in self.http], "timers": sorted(self.timers),
                                  "queues": sorted(self.queues)})

    async def _run_function(self, request: web.Request) -> web.Response:
        """Run a timer (or queue function with ``{"input": "<text>"}``) now; 202 like Azure."""
        if not self._authorized(request):
            return web.Response(status=401)
        name = request.match_info["name"]
        payload = await request.json() if request.can_read_body else {}
        if name in self.timers:
            await self.run_timer(name)
        elif name in self.queues:
            text = str(payload.get("input") or "")
            await self.queues[name].fn(QueueMessage(id="manual", body=text.encode(), dequeue_count=1))
        else:
            return web.json_response({"error": "not_found", "message": f"no function {name}"}, status=404)
        return web.Response(status=202)

    # ------------------------------------------------------------ timers

    async def run_timer(self, name: str, *, past_due: bool = False) -> None:
        timer = self.timers[name]
        self.invocations[name] = self.invocations.get(name, 0) + 1
        await timer.fn(TimerRequest(past_due=past_due, schedule_status={},
                                    schedule={"AdjustForDST": True}))

    async def _tick(self, timer: TimerFunction) -> None:
        if timer.run_on_startup:
            await self._safe_timer(timer.name)
        while True:
            now = datetime.now(UTC)
            nxt = timer.schedule.next_after(now)
            if nxt is None:
                return
            await asyncio.sleep(max(0.0, (nxt - datetime.now(UTC)).total_seconds()))
            await self._safe_timer(timer.name)

    async def _safe_timer(self, name: str) -> None:
        try:
            await self.run_timer(name)
        except Exception:
            logger.exception("timer function %s failed", name)

    # ------------------------------------------------------------ queues

    async def _poll(self, q: QueueFunction) -> None:
        client = QueueClient.from_connection_string(self.conn, q.queue)
        poison = QueueClient.from_connection_string(self.conn, f"{q.queue}-poison")
        for c in (client, poison):
            with contextlib.suppress(ResourceExistsError):
                await c.create_queue()
        delay = 0.1
        try:
            while True:
                try:
                    batch = [m async for m in client.receive_messages(
                        max_messages=self.options.batch_size, visibility_timeout=self.options.visibility_timeout)]
                except Exception:
                    logger.warning("queue %s: receive failed", q.queue, exc_info=True)
                    batch = []
                if batch:
                    delay = 0.1
                    await asyncio.gather(*(self._handle(q, client, poison, m) for m in batch))
                else:
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self.options.max_polling_interval)
        finally:
            await client.close()
            await poison.close()

    async def _handle(self, q: QueueFunction, client: QueueClient, poison: QueueClient, msg: Any) -> None:
        try:
            body = base64.b64decode(msg.content, validate=True)
        except ValueError:
            logger.error("queue %s: message %s is not base64; moved to poison", q.queue, msg.id)
            await poison.send_message(msg.content)
            await client.delete_message(msg)
            return
        message = QueueMessage(id=msg.id, body=body, dequeue_count=msg.dequeue_count,
                               expiration_time=msg.expires_on, insertion_time=msg.inserted_on,
                               time_next_visible=msg.next_visible_on, pop_receipt=msg.pop_receipt)
        self.invocations[q.name] = self.invocations.get(q.name, 0) + 1
        try:
            await q.fn(message)
        except Exception:
            logger.warning("function %s failed on message %s (attempt %d)", q.name, msg.id, msg.dequeue_count,
                           exc_info=True)
            if msg.dequeue_count >= self.options.max_dequeue_count:
                await poison.send_message(msg.content)
                await client.delete_message(msg)
            return
        await client.delete_message(msg)
