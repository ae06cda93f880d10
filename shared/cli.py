"""``exsync``: the command line over the admin API (httpx + rich; ``--json`` for scripts).

    exsync [--url URL] [--key KEY] [--json] <command> ...

``--url`` defaults to ``$EXSYNC_API_URL`` or ``http://127.0.0.1:7071/api`` (``make serve``); ``--key``
to ``$EXSYNC_FUNCTION_KEY``. Commands: policies, servers, mailboxes, sync (with progress), status,
log, doctor. Exit status: 0 ok, 1 the API refused (the message names the field) or the doctor found a
problem, 2 usage errors. What is shown is computed by :mod:`shared.cli_view`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from shared import cli_system_mailboxes
from shared.cli_view import STATUS_COLUMNS, error_fields, progress_line, status_row

logger = logging.getLogger(__name__)

DEFAULT_URL = "http://127.0.0.1:7071/api"
DONE = {"succeeded", "failed", "warning"}
TYPES = ["contact", "email", "task", "event"]


def version() -> str:
    """The installed distribution's version (``0+unknown`` when run from a plain checkout)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("exsync")
    except PackageNotFoundError:
        return "0+unknown"


class ApiFailed(Exception):
    """The API answered with an error status."""

    def __init__(self, status: int, body: Any) -> None:
        self.status, self.body = status, body
        message = body.get("message") if isinstance(body, dict) else str(body)
        detail = "".join(f"\n  {k}: {v}" if v else f"\n  {k}" for k, v in error_fields(body))
        super().__init__(f"HTTP {status}: {message}{detail}")


class Api:
    """A thin client of the admin API."""

    def __init__(self, url: str, key: str | None, *, transport: httpx.BaseTransport | None = None) -> None:
        headers = {"x-functions-key": key} if key else {}
        self.client = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=60, transport=transport)

    def call(self, method: str, path: str, body: Any = None, params: dict[str, str] | None = None) -> Any:
        response = self.client.request(method, path, json=body, params=params)
        data: Any = None
        if response.content:
            try:
                data = response.json()
            except ValueError:
                data = response.text
        if response.status_code == 401:
            raise ApiFailed(401, {"message": "missing or wrong function key; pass --key or set EXSYNC_FUNCTION_KEY"})
        if response.status_code >= 400:
            raise ApiFailed(response.status_code, data)
        return data


def _read_json(source: str) -> Any:
    text = sys.stdin.read() if source == "-" else Path(source).read_text()
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SystemExit(f"{source}: not valid JSON ({exc})") from exc


def _table(console: Console, rows: list[dict[str, Any]], columns: Sequence[str], title: str) -> None:
    table = Table(title=title)
    for col in columns:
        table.add_column(col)
    for row in rows:
        table.add_row(*(_cell(row.get(c)) for c in columns))
    console.print(table)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


# ---------------------------------------------------------------- commands


def _resource(api: Api, args: argparse.Namespace, kind: str) -> Any:
    action = args.action
    if action == "list":
        return api.call("GET", f"/{kind}")
    if action == "get":
        return api.call("GET", f"/{kind}/{args.name}")
    if action == "create":
        if args.file is None and args.name is None:
            raise SystemExit(f"exsync {kind} create: give a JSON file (or - for stdin) or --name NAME")
        body = _read_json(args.file) if args.file else {}
        if args.name:
            body = {**body, "name": args.name}
        return api.call("POST", f"/{kind}", body)
    if action == "put":
        return api.call("PUT", f"/{kind}/{args.name}", _read_json(args.file))
    if action == "delete":
        return api.call("DELETE", f"/{kind}/{args.name}") or {"deleted": args.name}
    if action == "test":
        return api.call("POST", f"/{kind}/{args.name}/test")
    if action == "initialize":
        return api.call("POST", f"/{kind}/{args.name}/initialize", {"mailboxes": args.mailbox or []})
    raise SystemExit(f"unknown action {action}")


def _mailboxes(api: Api, args: argparse.Namespace) -> Any:
    if args.action == "list":
        return api.call("GET", f"/servers/{args.server}/mailboxes")
    if args.action == "put":
        body: dict[str, Any] = {"employee_id": args.employee_id, "employee_name": args.name or "",
                                "sync": not args.no_sync}
        if args.policy:
            body["policy"] = args.policy
        return api.call("PUT", f"/servers/{args.server}/mailboxes/{args.email}", body)
    return api.call("DELETE", f"/servers/{args.server}/mailboxes/{args.email}") or {"deleted": args.email}


def _sync(api: Api, args: argparse.Namespace, console: Console) -> Any:
    body: dict[str, Any] = {"all": True} if args.all else {"mailboxes": args.mailboxes}
    if not args.all and not args.mailboxes:
        raise SystemExit("give mailboxes or --all")
    for key in ("server", "policy"):
        if getattr(args, key):
            body[key] = getattr(args, key)
    if args.type:
        body["types"] = args.type
    accepted = api.call("POST", "/sync", body)
    if args.no_wait or not accepted["queued"]:
        return accepted
    return {**accepted, "results": _wait(api, accepted, console, quiet=args.json, limit=args.timeout)}


def _wait(api: Api, accepted: dict[str, Any], console: Console, *, quiet: bool, limit: float) -> dict[str, Any]:
    """Poll each queued mailbox's status until our run (or a later one) finished, showing progress."""
    pending = set(accepted["queued"])
    results: dict[str, Any] = {}
    deadline = time.monotonic() + limit
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=console, disable=quiet, transient=False) as progress:
        overall = progress.add_task(f"run {accepted['run_id'][:8]}", total=len(pending))
        bars = {email: progress.add_task(f"{email}: queued", total=None) for email in sorted(pending)}
        while pending and time.monotonic() < deadline:
            for email in sorted(pending):
                status = api.call("GET", f"/mailboxes/{email}/status")
                run = status.get("last_run") or {}
                ours = run.get("run_id") == accepted["run_id"]
                # done when our run finished, or a later run finished with nothing left waiting
                # (requests are coalesced, so a later run may have done our work)
                if run.get("state") in DONE and (ours or status.get("pending") is None):
                    results[email] = run
                    pending.discard(email)
                    progress.update(bars[email], description=f"{email}: {run['state']}", completed=1, total=1)
                    progress.advance(overall)
                    continue
                description, done, total = progress_line(email, status)
                progress.update(bars[email], description=description, completed=done, total=total)
            if pending:
                time.sleep(0.5)
    for email in pending:
        results[email] = {"state": "timed out waiting"}
    return results


def _status(api: Api, args: argparse.Namespace) -> Any:
    if (args.reset or args.reset_warning) and not args.email:
        raise SystemExit("exsync status --reset/--reset-warning: give the mailbox (exsync status EMAIL --reset)")
    if args.reset:
        body: dict[str, Any] = {"direction": args.direction}
        if args.type:
            body["type"] = args.type
        if args.since:
            body["since"] = args.since
        return api.call("POST", f"/mailboxes/{args.email}/status/reset", body)
    if args.reset_warning:
        return api.call("POST", f"/mailboxes/{args.email}/reset-warning")
    if args.email:
        return api.call("GET", f"/mailboxes/{args.email}/status")
    return {"mailboxes": all_mailboxes(api)}


def all_mailboxes(api: Api) -> list[dict[str, Any]]:
    """Every configured mailbox of every server with its live status (last run, what waits, progress)."""
    out: list[dict[str, Any]] = []
    for server in api.call("GET", "/servers"):
        for mailbox in api.call("GET", f"/servers/{server['name']}/mailboxes"):
            status = api.call("GET", f"/mailboxes/{mailbox['email']}/status")
            out.append({**mailbox, "server": server["name"], "status": status})
    return sorted(out, key=lambda m: m["email"])


def _log(api: Api, args: argparse.Namespace) -> Any:
    if args.clear:
        return api.call("DELETE", f"/mailboxes/{args.email}/log")
    params = {"limit": str(args.limit)}
    if args.level:
        params["level"] = args.level
    if args.cursor:
        params["cursor"] = args.cursor
    return api.call("GET", f"/mailboxes/{args.email}/log", params=params)


def _doctor(api: Api) -> Any:
    servers = api.call("GET", "/servers")
    if not servers:
        return {"ok": False, "servers": [{"server": None, "ok": False, "findings": [{
            "ok": False, "check": "servers", "target": "-", "message": "no server is configured",
            "fix": "create one: exsync servers create --name m365 (tenant, client id and Key Vault "
                   "secret come from the deployment)"}]}]}
    reports = []
    for server in servers:
        try:
            reports.append(api.call("POST", f"/servers/{server['name']}/test"))
        except ApiFailed as exc:
            reports.append({"server": server["name"], "ok": False, "findings": [{"ok": False, "message": str(exc)}]})
            continue
        if not api.call("GET", f"/servers/{server['name']}/mailboxes"):
            reports[-1] = {**reports[-1], "ok": False, "findings": [*reports[-1].get("findings", []), {
                "ok": False, "check": "mailboxes", "target": server["name"],
                "message": f"server {server['name']} has no mailboxes, so nothing is synced",
                "fix": f"add one: exsync mailboxes put {server['name']} <upn> --employee-id <ERP employee id>"}]}
    return {"ok": all(r.get("ok") for r in reports), "servers": reports}


# ---------------------------------------------------------------- presentation


def _show(console: Console, command: str, result: Any) -> None:
    if command == "sync" and "results" in result:
        rows = [{"mailbox": k, **v} for k, v in sorted(result["results"].items())]
        _table(console, rows, ["mailbox", "state", "message"], f"run {result['run_id']}")
    elif command == "status" and isinstance(result, dict) and "mailboxes" in result:
        rows = [status_row(m["email"], m.get("server", "-"), m.get("status")) for m in result["mailboxes"]]
        if not rows:
            console.print("no mailboxes are configured; add one: exsync mailboxes put <server> <upn> "
                          "--employee-id <ERP employee id>")
        else:
            _table(console, rows, STATUS_COLUMNS, "mailboxes")
    elif command == "status" and isinstance(result, dict) and "email" in result:
        _table(console, [status_row(result["email"], "-", result)], [c for c in STATUS_COLUMNS if c != "server"],
               result["email"])
        counts = (result.get("last_run") or {}).get("counts") or {}
        if counts:
            rows = [{"type.side": k, **v} for k, v in counts.items()]
            _table(console, rows, ["type.side", "created", "updated", "deleted", "conflicts", "skipped", "failed"],
                   "last run")
    elif command == "mailboxes" and isinstance(result, list):
        rows = [{**m, **{k: v for k, v in status_row(m["email"], m.get("server", "-"), m.get("status")).items()
                         if k in ("state", "last run", "warning")}} for m in result]
        _table(console, rows, ["email", "employee_id", "policy", "sync", "state", "last run", "warning"],
               "mailboxes")
    elif command == "log" and isinstance(result, dict) and "entries" in result:
        _table(console, result["entries"], ["at", "level", "record_type", "message"], "log")
        if result.get("next_cursor"):
            console.print(f"more: --cursor {result['next_cursor']}")
    elif command == "doctor":
        rows = [{"server": r.get("server"), **f} for r in result["servers"] for f in r.get("findings", [])]
        _table(console, rows, ["server", "ok", "check", "target", "message", "fix"], "doctor")
    elif isinstance(result, list) and result and isinstance(result[0], dict):
        columns = [c for c in ("name", "email", "server", "employee_id", "policy", "sync", "is_active",
                               "default_policy", "conflict_resolution") if any(c in r for r in result)]
        _table(console, result, columns, command)
    else:
        console.print_json(json.dumps(result, default=str))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="exsync", description="Administer exsync through its admin API.")
    p.add_argument("--version", action="version", version=f"exsync {version()}",
                   help="print the installed version and exit")
    p.add_argument("--url", default=os.environ.get("EXSYNC_API_URL", DEFAULT_URL),
                   help=f"admin API base URL, e.g. https://<app>.azurewebsites.net/api "
                        f"(default: $EXSYNC_API_URL or {DEFAULT_URL})")
    p.add_argument("--key", default=os.environ.get("EXSYNC_FUNCTION_KEY"),
                   help="function key sent as x-functions-key (default: $EXSYNC_FUNCTION_KEY)")
    p.add_argument("--json", action="store_true", help="print the API's JSON instead of tables")
    sub = p.add_subparsers(dest="command", required=True, metavar="command")
    for kind in ("policies", "servers"):
        one = kind[:-3] + "y" if kind == "policies" else kind[:-1]
        s = sub.add_parser(kind, help=f"manage {kind}").add_subparsers(dest="action", required=True,
                                                                         metavar="action")
        s.add_parser("list", help=f"list {kind}")
        for action, text in (("get", "show"), ("delete", "delete")) + (
                (("test", "test the credential, permissions and mailboxes of"),) if kind == "servers" else ()):
            s.add_parser(action, help=f"{text} a {one}").add_argument("name", help=f"the {one}'s name")
        create = s.add_parser("create", help=f"create a {one} from JSON (or just a name)")
        create.add_argument("file", nargs="?", help="JSON file, or - for stdin")
        create.add_argument("--name", help=f"the {one}'s name (enough for a {one} with every default)")
        put = s.add_parser("put", help=f"create or replace a {one} from JSON")
        put.add_argument("name", help=f"the {one}'s name")
        put.add_argument("file", help="JSON file, or - for stdin")
        if kind == "servers":
            init = s.add_parser("initialize", help="create the categories and folders in the mailboxes")
            init.add_argument("name", help="the server's name")
            init.add_argument("--mailbox", action="append", help="limit to this mailbox (repeatable)")
    m = sub.add_parser("mailboxes", help="manage a server's mailboxes").add_subparsers(
        dest="action", required=True, metavar="action")
    m.add_parser("list", help="a server's mailboxes with their state").add_argument("server", help="server name")
    mp = m.add_parser("put", help="add or change a mailbox")
    mp.add_argument("server", help="server name")
    mp.add_argument("email", help="the mailbox's user principal name, e.g. ann@contoso.com")
    mp.add_argument("--employee-id", required=True, help="the ERP employee id the mailbox belongs to")
    mp.add_argument("--name", help="the employee's display name")
    mp.add_argument("--policy", help="sync policy (default: the server's default policy)")
    mp.add_argument("--no-sync", action="store_true", help="configure the mailbox but do not sync it yet")
    md = m.add_parser("delete", help="remove a mailbox")
    md.add_argument("server", help="server name")
    md.add_argument("email", help="the mailbox's user principal name")
    sy = sub.add_parser("sync", help="queue a sync and follow it")
    sy.add_argument("mailboxes", nargs="*", help="mailboxes to sync (or --all)")
    sy.add_argument("--all", action="store_true", help="every mailbox that has sync on")
    sy.add_argument("--server", help="only the mailboxes of this server")
    sy.add_argument("--policy", help="only the mailboxes with this policy")
    sy.add_argument("--type", action="append", choices=TYPES, help="only this record type (repeatable)")
    sy.add_argument("--no-wait", action="store_true", help="queue and return at once")
    sy.add_argument("--timeout", type=float, default=600, help="seconds to follow the run (default 600)")
    st = sub.add_parser("status", help="every mailbox's state in a table, or one mailbox's; --reset / --reset-warning")
    st.add_argument("email", nargs="?", help="one mailbox (default: all mailboxes of all servers)")
    st.add_argument("--reset", action="store_true", help="reset export/import dates so the next run re-reads")
    st.add_argument("--reset-warning", action="store_true", help="clear the mailbox's warning")
    st.add_argument("--type", choices=TYPES, help="with --reset: only this record type")
    st.add_argument("--direction", default="both", choices=["export", "import", "both"],
                    help="with --reset: which dates to reset (default both)")
    st.add_argument("--since", help="with --reset: re-read from this ISO date instead of the beginning")
    lg = sub.add_parser("log", help="a mailbox's log, newest first")
    lg.add_argument("email", help="the mailbox")
    lg.add_argument("--level", choices=["verbose", "informational", "warning", "error", "critical"],
                    help="lowest level shown")
    lg.add_argument("--limit", type=int, default=50, help="entries per page (default 50)")
    lg.add_argument("--cursor", help="next page (printed after a full page)")
    lg.add_argument("--clear", action="store_true", help="delete the mailbox's log")
    sub.add_parser("doctor", help="test every server: token, permissions, mailboxes")
    cli_system_mailboxes.register(sub)
    return p


def run(argv: Sequence[str] | None = None, *, transport: httpx.BaseTransport | None = None,
        console: Console | None = None) -> int:
    args = build_parser().parse_args(argv)
    console = console or Console()
    api = Api(args.url, args.key, transport=transport)
    try:
        if args.command in ("policies", "servers"):
            result = _resource(api, args, args.command)
        elif args.command == "mailboxes":
            result = _mailboxes(api, args)
        elif args.command == "sync":
            result = _sync(api, args, console)
        elif args.command == "status":
            result = _status(api, args)
        elif args.command == "log":
            result = _log(api, args)
        elif args.command == cli_system_mailboxes.COMMAND:
            result = cli_system_mailboxes.handle(api, args, _read_json)
        else:
            result = _doctor(api)
    except ApiFailed as exc:
        if args.json:
            print(json.dumps({"error": exc.status, "body": exc.body}))
        else:
            console.print(f"[red]{exc}[/red]")
        return 1
    except httpx.HTTPError as exc:
        console.print(f"[red]cannot reach {args.url}: {exc}[/red] (is `make serve` running?)")
        return 1
    finally:
        api.client.close()
    if args.json:
        print(json.dumps(result, default=str))
    else:
        _show(console, args.command, result)
    if args.command == "doctor" and not result["ok"]:
        return 1
    if args.command == "sync" and any(r.get("state") != "succeeded" for r in result.get("results", {}).values()):
        return 1
    return 0


def main() -> None:
    sys.exit(run())
