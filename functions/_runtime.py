"""The process-wide :class:`~shared.runtime.Runtime`, built on first use (never at import).

The local host and tests install their own runtime with :func:`use_runtime`.
"""

from __future__ import annotations

import asyncio
import logging

from shared.runtime import Runtime, build_runtime
from shared.settings import load_settings

logger = logging.getLogger(__name__)

_runtime: Runtime | None = None
_lock: asyncio.Lock | None = None


def use_runtime(runtime: Runtime | None) -> None:
    """Install (or with None, forget) the runtime every function uses."""
    global _runtime
    _runtime = runtime


async def get_runtime() -> Runtime:
    global _runtime, _lock
    if _runtime is not None:
        return _runtime
    _lock = _lock or asyncio.Lock()
    async with _lock:
        if _runtime is None:
            settings = load_settings()
            _runtime = await build_runtime(settings)
            logger.info("runtime ready")
    return _runtime
