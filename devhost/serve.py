"""``python -m devhost.serve``: Azurite + the Graph and Acumatica simulators + the local Functions host.

Ports: ``SERVE_PORT`` (7071) for ``/api``, ``SIM_GRAPH_PORT`` (8001), ``SIM_ERP_PORT`` (8002); Azurite on
free ports. The ERP connection points at the simulated Acumatica (``admin:setup@Company``). The
function key is ``EXSYNC_FUNCTION_KEY`` or generated and printed. Prints ``ready`` when everything is
up; Ctrl-C (or SIGTERM) stops every process it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import secrets
import signal
import sys
from collections.abc import AsyncIterator, Mapping
from typing import Any

from devhost.host import LocalHost
from devhost.services import Azurite, Simulator, start_azurite, start_simulator

logger = logging.getLogger(__name__)

ERP_LOGIN = {"EXSYNC_ERP_TENANT": "Company", "EXSYNC_ERP_USERNAME": "admin", "EXSYNC_ERP_PASSWORD": "setup"}


def _local(url: str) -> bool:
    return url.startswith(("http://127.0.0.1", "http://localhost"))


def local_credentials() -> Any:
    """Static tokens for the Graph simulator; the production providers for anything else."""
    from shared.graph.auth import StaticTokenCredential
    from shared.runtime import production_credentials

    production: list[Any] = []

    def credential_for(server: Any) -> Any:
        if _local(server.graph_base_url):
            return StaticTokenCredential()
        if not production:
            from shared.settings import load_settings

        production.append(production_credentials(load_settings()))
        return production[0](server)

    return credential_for


@dataclasses.dataclass
class Stack:
    """The running local stack."""

    host: LocalHost
    azurite: Azurite
    graph: Simulator
    erp: Simulator
    env: dict[str, str]
    runtime: Any

    @property
    def api(self) -> str:
        return f"{self.host.base_url}/api"

    @property
    def key(self) -> str:
        return self.host.key


def stack_env(azurite: Azurite, graph: Simulator, erp: Simulator, port: int,
              base: Mapping[str, str]) -> dict[str, str]:
    conn = azurite.connection_string
    return {
        **base, "EXSYNC_STATE_CONNECTION": conn, "AzureWebJobsStorage": conn,
        "EXSYNC_ERP_URL": erp.base_url, **{k: base.get(k) or v for k, v in ERP_LOGIN.items()},
        "EXSYNC_GRAPH_NOTIFICATION_URL": base.get("EXSYNC_GRAPH_NOTIFICATION_URL") or f"http://127.0.0.1:{port}/api",
        "EXSYNC_GRAPH_CLIENT_STATE": base.get("EXSYNC_GRAPH_CLIENT_STATE") or secrets.token_urlsafe(24),
        "EXSYNC_ERP_WEBHOOK_SECRET": base.get("EXSYNC_ERP_WEBHOOK_SECRET") or secrets.token_urlsafe(24),
        "EXSYNC_BATCH_STAGGER_SECONDS": base.get("EXSYNC_BATCH_STAGGER_SECONDS") or "0",
        "SIM_GRAPH_URL": graph.base_url,
    }


async def _point_erp_push(erp_url: str, webhook: str, secret: str) -> None:
    """Make the simulated Acumatica push its notifications to the host, with the shared secret."""
    import httpx

    from shared.admin.notifications import ERP_SECRET_HEADER

    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.post(f"{erp_url}/_sim/push",
                                     json={"url": webhook, "headers": {ERP_SECRET_HEADER: secret}})
        response.raise_for_status()


@contextlib.asynccontextmanager
async def running_stack(*, port: int | None = None, graph_port: int | None = None, erp_port: int | None = None,
                        key: str | None = None, timers: bool = True, graph_users: str = "",
                        extra_env: Mapping[str, str] | None = None) -> AsyncIterator[Stack]:
    """Start everything, yield the stack, stop everything (in reverse order)."""
    import function_app
    from functions._runtime import use_runtime
    from shared.console.setup import development_console, use_console
    from shared.runtime import build_runtime
    from shared.settings import Settings

    base = {**os.environ, **(extra_env or {})}
    port = port or int(base.get("SERVE_PORT") or 7071)
    key = key or base.get("EXSYNC_FUNCTION_KEY") or secrets.token_urlsafe(24)
    azurite = await asyncio.to_thread(start_azurite)
    graph = erp = None
    try:
        graph_args = ["--users", graph_users] if graph_users else []
        graph = await asyncio.to_thread(start_simulator, "sim.graph", graph_args,
                                        graph_port or int(base.get("SIM_GRAPH_PORT") or 8001))
        erp = await asyncio.to_thread(start_simulator, "sim.acumatica", [],
                                      erp_port or int(base.get("SIM_ERP_PORT") or 8002))
        env = stack_env(azurite, graph, erp, port, base)
        runtime = await build_runtime(Settings.from_env(env), credential_for=local_credentials(), review=False)
        use_runtime(runtime)
        use_console(development_console())  # the local console signs in a development admin
        host = LocalHost(function_app.app, function_key=key, storage_connection=azurite.connection_string,
                         env=env, port=port, timers=timers)
        await host.start()
        await _point_erp_push(erp.base_url, f"{host.base_url}/api/erp/notifications",
                              env["EXSYNC_ERP_WEBHOOK_SECRET"])
        try:
            yield Stack(host, azurite, graph, erp, env, runtime)
        finally:
            await host.stop()
            use_runtime(None)
            use_console(None)
            await runtime.aclose()
    finally:
        for sim in (erp, graph):
            if sim is not None:
                sim.stop()
        azurite.stop()


async def _main() -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with running_stack() as stack:
        generated = "EXSYNC_FUNCTION_KEY" not in os.environ
        print(f"admin API   {stack.api}  (x-functions-key: {stack.key}"
              f"{' — generated; set EXSYNC_FUNCTION_KEY to fix it' if generated else ''})")
        print(f"graph sim   {stack.graph.base_url}")
        print(f"erp sim     {stack.erp.base_url}  (admin:setup@Company)")
        print(f"openapi     {stack.api}/openapi.json")
        print(f"console     {stack.api}/console/health  (signed in as a development admin; "
              f"?role=reader at {stack.api}/console/signin for a reader)")
        print("ready", flush=True)
        await stop.wait()
        print("stopping", flush=True)
    return 0


def main() -> None:
    logging.basicConfig(level=os.environ.get("EXSYNC_LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("azure", "httpx", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    sys.exit(asyncio.run(_main()))


if __name__ == "__main__":
    main()
