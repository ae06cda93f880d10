"""Path routing for Graph URLs: case-insensitive literal segments, ``{name}`` captures.

Segments are normalised before matching: ``microsoft.graph.`` prefixes and trailing ``()`` are
dropped (msgraph-sdk sends ``delta()``), and ``applications(appId='x')`` becomes
``applications`` + ``appId='x'``. The first route that matches wins, so register specific routes
(``.../delta``) before captures (``.../{id}``).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from sim.graph.call import Call, Reply
from sim.graph.errors import GraphError

Handler = Callable[..., Awaitable[Reply]]
_KEY_SEGMENT = re.compile(r"^([A-Za-z]+)\((.+)\)$")


def normalise(segments: list[str]) -> list[str]:
    out: list[str] = []
    for seg in segments:
        if seg.lower().startswith("microsoft.graph."):
            seg = seg[len("microsoft.graph."):]
        if seg.endswith("()"):
            seg = seg[:-2]
        match = _KEY_SEGMENT.match(seg)
        if match:
            out.extend([match.group(1), match.group(2)])
        else:
            out.append(seg)
    return out


class Router:
    def __init__(self) -> None:
        self._routes: list[tuple[frozenset[str], list[str], Handler]] = []

    def add(self, methods: str, pattern: str, handler: Handler) -> None:
        parts = [p for p in pattern.split("/") if p]
        self._routes.append((frozenset(methods.split(",")), parts, handler))

    def resolve(self, call: Call) -> tuple[Handler, dict[str, str]]:
        segments = normalise(call.segments)
        allowed = False
        for methods, parts, handler in self._routes:
            params = _match(parts, segments)
            if params is None:
                continue
            if call.method in methods:
                return handler, params
            allowed = True
        if allowed:
            raise GraphError(405, "Request_BadRequest",
                             f"The HTTP method '{call.method}' is not allowed for this resource.")
        last = segments[-1] if segments else ""
        raise GraphError(400, "BadRequest", f"Resource not found for the segment '{last}'.")

    async def dispatch(self, call: Call, sim: Any) -> Reply:
        handler, params = self.resolve(call)
        return await handler(call, sim, **params)


def _match(parts: list[str], segments: list[str]) -> dict[str, str] | None:
    if len(parts) != len(segments):
        return None
    params: dict[str, str] = {}
    for part, seg in zip(parts, segments, strict=True):
        if part.startswith("{"):
            params[part[1:-1]] = seg
        elif part.lower() != seg.lower():
            return None
    return params
