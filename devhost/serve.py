"""``python -m devhost.serve [--seed demo]``: Azurite + the Graph and Acumatica simulators + the local
Functions host.

Ports: ``SERVE_PORT`` (7071) for ``/api``, ``SIM_GRAPH_PORT`` (8001), ``SIM_ERP_PORT`` (8002); Azurite on
free ports. App settings: ``local.settings.json`` (when present, like Core Tools), then the
environment; the stack itself sets what the deployment sets in Azure (storage, the ERP connection
to the simulated Acumatica ``admin:setup@Company``, queue name, schedule). A missing or invalid
setting stops it before anything starts, naming the setting. The same telemetry set-up as in Azure
runs (it exports when ``APPLICATIONINSIGHTS_CONNECTION_STRING`` is set). ``--seed demo`` adds the
demo company: its employees as Microsoft 365 users and in the ERP with their contacts, nothing
configured in exsync yet, so the first sync of docs/deploy.md can be followed locally. The function
key is ``EXSYNC_FUNCTION_KEY`` or generated and printed. Prints ``ready`` when everything is up;
Ctrl-C (or SIGTERM) stops every process it started. ``--host-only`` runs just the host against
services already running (see :func:`_host_only`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import secrets
import signal
import sys
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

from devhost.host import ROOT, LocalHost, MissingSetting
from devhost.services import Azurite, Simulator, start_azurite, start_simulator

logger = logging.getLogger(__name__)

ERP_LOGIN = {"EXSYNC_ERP_TENANT": "Company", "EXSYNC_ERP_USERNAME": "admin", "EXSYNC_ERP_PASSWORD": "setup"}
# What infra/main.bicep sets in Azure and the local stack sets here (the bindings need them).
DEPLOYED = {"EXSYNC_SYNC_QUEUE": "exsync-sync", "EXSYNC_SCHEDULE": "0 */5 * * * *"}


def local_settings(path: Path = ROOT / "local.settings.json") -> dict[str, str]:
    """The ``Values`` of local.settings.json (none when the file is absent)."""
    if not path.exists():
        return {}
    try:
        values = json.loads(path.read_text(encoding="utf-8")).get("Values") or {}
    except ValueError as exc:
        raise SystemExit(f"{path}: not valid JSON ({exc}); fix it or remove it") from exc
    return {str(k): str(v) for k, v in values.items()}


def _local(url: str) -> bool:
    return url.startswith(("http://127.0.0.1", "http://localhost"))


def local_credentials(settings: Any) -> Any:
    """Static tokens for the Graph simulator; the production providers (built once) for anything else."""
    from shared.graph.auth import StaticTokenCredential
    from shared.runtime import production_credentials

    production: list[Any] = []

    def credential_for(server: Any) -> Any:
        if _local(server.graph_base_url):
            return StaticTokenCredential()
        if not production:
            production.append(production_credentials(settings))
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
        **{k: base.get(k) or v for k, v in DEPLOYED.items()},
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
                        extra_env: Mapping[str, str] | None = None, sign_in: str = "static",
                        dev_console: bool = True) -> AsyncIterator[Stack]:
    """Start everything, yield the stack, stop everything (in reverse order).

    ``sign_in="entra"`` runs the production credential code: servers get the simulator's app
    registration from the settings, azure-identity gets tokens from the simulator's Entra-like
    endpoint, and ``Test server`` / the doctor run the full credential review. ``"static"`` (tests
    that create servers with made-up client ids) sends any bearer token instead.
    ``dev_console=False`` leaves the console's Entra sign-in of the settings in place (the sign-in
    tests point ``EXSYNC_CONSOLE_AUTHORITY`` at a local issuer) instead of a development admin.
    """
    import function_app
    from functions._runtime import use_runtime
    from shared.admin import telemetry
    from shared.console.setup import development_console, use_console
    from shared.runtime import build_runtime
    from shared.settings import Settings

    base = {**local_settings(), **os.environ, **(extra_env or {})}
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
        settings = Settings.from_env(env)  # a bad setting stops the stack here, naming it
        telemetry.configure_from_environment(env)
        if sign_in == "entra":
            from devhost import entra
            from shared.credentials.service import use_provider_options

            secret = base.get("EXSYNC_CLIENT_SECRET") or await entra.issue_secret(graph.base_url)
            env = {**env, **entra.sign_in_settings(secret)}  # the local "deployment" owns the sign-in
            settings = Settings.from_env(env)
            use_provider_options(entra.provider_options(graph.base_url, env))
            runtime = await build_runtime(settings)
        else:
            runtime = await build_runtime(settings, credential_for=local_credentials(settings), review=False)
        use_runtime(runtime)
        use_console(development_console() if dev_console else None)  # locally: a development admin
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
            if sign_in == "entra":
                from shared.credentials.service import use_provider_options

                use_provider_options(None)
    finally:
        for sim in (erp, graph):
            if sim is not None:
                sim.stop()
        azurite.stop()


async def _host_only() -> int:
    """``--host-only``: the host alone against services already running, named by the environment
    (``EXSYNC_STATE_CONNECTION``, ``AzureWebJobsStorage``, ``EXSYNC_ERP_URL``, ...); static tokens for
    Graph simulators. The fault tests kill and restart it against the same Azurite and simulators."""
    import function_app
    from functions._runtime import use_runtime
    from shared.runtime import build_runtime
    from shared.settings import Settings

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    env = dict(os.environ)
    settings = Settings.from_env(env)
    runtime = await build_runtime(settings, credential_for=local_credentials(settings), review=False)
    use_runtime(runtime)
    host = LocalHost(function_app.app, function_key=env["EXSYNC_FUNCTION_KEY"],
                     storage_connection=env["AzureWebJobsStorage"], env=env,
                     port=int(env.get("SERVE_PORT") or 7071), timers=env.get("EXSYNC_LOCAL_TIMERS") != "false")
    await host.start()
    try:
        print(f"admin API   {host.base_url}/api", flush=True)
        print("ready", flush=True)
        await stop.wait()
    finally:
        await host.stop()
        use_runtime(None)
        await runtime.aclose()
    return 0


async def _main(seed: str | None = None) -> int:
    from shared.errors import ConfigurationError

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with running_stack(sign_in="entra") as stack:
            return await _serve(stack, stop, seed)
    except (ConfigurationError, MissingSetting) as exc:
        print(f"not started: {exc}", file=sys.stderr, flush=True)
        return 2


async def _serve(stack: Stack, stop: asyncio.Event, seed: str | None) -> int:
    generated = "EXSYNC_FUNCTION_KEY" not in os.environ
    print(f"admin API   {stack.api}  (x-functions-key: {stack.key}"
          f"{' — generated; set EXSYNC_FUNCTION_KEY to fix it' if generated else ''})")
    print(f"graph sim   {stack.graph.base_url}")
    print(f"erp sim     {stack.erp.base_url}  (admin:setup@Company)")
    print(f"openapi     {stack.api}/openapi.json")
    print(f"console     {stack.host.base_url}/console/health  (signed in as a development admin; "
          f"?role=reader at {stack.host.base_url}/console/signin for a reader)")
    if seed == "demo":
        from devhost.seed import print_next_steps, seed_demo

        print_next_steps(stack, await seed_demo(stack))
    else:
        print(f"no users yet: add them with POST {stack.graph.base_url}/_sim/users "
              '{"userPrincipalName": "ann@contoso.test"}, or restart with `make serve SEED=demo`')
    print("ready", flush=True)
    await stop.wait()
    print("stopping", flush=True)
    return 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m devhost.serve", description="The local exsync stack.")
    parser.add_argument("--seed", choices=["demo"], help="start with the demo company's users, employees and "
                                                         "contacts (nothing configured in exsync yet)")
    parser.add_argument("--host-only", action="store_true", help="only the host, against services already "
                                                                 "running (their settings in the environment)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=os.environ.get("EXSYNC_LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("azure", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # httpx / httpcore: quieted by telemetry.configure_from_environment when the stack starts
    sys.exit(asyncio.run(_host_only() if args.host_only else _main(args.seed)))


if __name__ == "__main__":
    main()
