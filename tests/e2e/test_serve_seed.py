"""The local stack refuses to start on a missing or invalid setting, as Azure's host does, and
``--seed demo`` gives a newcomer a company whose first sync the printed commands carry out."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import shlex
from typing import Any

import httpx
import pytest
from rich.console import Console

import function_app
from devhost.host import LocalHost, MissingSetting
from devhost.seed import next_steps, seed_demo
from devhost.serve import running_stack
from devhost.services import free_port
from shared.cli import run
from shared.errors import ConfigurationError
from sim.graph.resources.entra import default_roles

GHOST = "ghost@contoso.test"


def test_host_refuses_bindings_whose_setting_is_missing() -> None:
    with pytest.raises(MissingSetting) as err:
        LocalHost(function_app.app, function_key="k", storage_connection="UseDevelopmentStorage=true", env={},
                  timers=False)
    assert set(err.value.missing) == {"EXSYNC_SYNC_QUEUE", "EXSYNC_SCHEDULE"}
    assert "sync_worker" in str(err.value) and "local.settings.json" in str(err.value)


async def test_stack_refuses_an_invalid_setting_naming_it() -> None:
    with pytest.raises(ConfigurationError, match="EXSYNC_LOG_RETENTION_DAYS"):
        async with running_stack(port=free_port(), graph_port=free_port(), erp_port=free_port(), timers=False,
                                 extra_env={"EXSYNC_LOG_RETENTION_DAYS": "7"}):
            pytest.fail("the stack started with an invalid setting")


async def _cli(*argv: str, stdin: str | None = None) -> tuple[int, Any]:
    out = io.StringIO()

    def call() -> int:
        import sys

        saved = sys.stdin
        sys.stdin = io.StringIO(stdin or "")
        try:
            return run(["--json", *argv], console=Console(file=io.StringIO()))
        finally:
            sys.stdin = saved

    with contextlib.redirect_stdout(out):
        code = await asyncio.to_thread(call)
    return code, json.loads(out.getvalue() or "null")


@pytest.mark.slow
async def test_seeded_company_syncs_with_the_printed_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    async with running_stack(port=free_port(), graph_port=free_port(), erp_port=free_port(), key="seed-key",
                             timers=False, sign_in="entra") as stack:
        people = await seed_demo(stack, employees=3, contacts=5)
        steps = next_steps(stack, people)
        monkeypatch.setenv("EXSYNC_API_URL", stack.api)
        monkeypatch.setenv("EXSYNC_FUNCTION_KEY", stack.key)
        code, result = await _cli("doctor")  # nothing configured yet: the doctor says what to do
        assert code == 1 and "exsync servers create --name" in result["servers"][0]["findings"][0]["fix"]
        commands = [line.strip() for line in steps if line.strip().startswith("exsync ")]
        assert len(commands) == 4 + len(people) + 1
        results = {}
        for command in commands:
            argv = shlex.split(command.split("<<<")[0])[1:]
            stdin = shlex.split(command.split("<<<")[1])[0] if "<<<" in command else None
            code, result = await _cli(*argv, stdin=stdin)
            results[argv[0] + " " + (argv[1] if len(argv) > 1 else "")] = result
            if argv[:2] == ["servers", "put"]:
                code_empty, empty = await _cli("doctor")
                fixes = [f["fix"] for s in empty["servers"] for f in s["findings"] if not f["ok"]]
                assert code_empty == 1 and any("exsync mailboxes put local" in f for f in fixes), fixes
            problems = [f for s in (result or {}).get("servers", []) for f in s["findings"] if not f["ok"]]
            assert code == 0, (command, problems or result)
        assert results[f"sync {people[0].email}"]["results"][people[0].email]["state"] == "succeeded"
        async with httpx.AsyncClient(base_url=stack.graph.base_url, headers={"Authorization": "Bearer t"}) as graph:
            contacts = (await graph.get(f"/v1.0/users/{people[0].email}/contacts?$top=100")).json()["value"]
        assert len(contacts) == 5  # the employee's ERP contacts reached Outlook
        rows = results["status "]["mailboxes"]
        assert sorted(r["email"] for r in rows) == sorted(p.email for p in people)

        # what the doctor says about a user who does not exist and a permission without consent
        code, _ = await _cli("mailboxes", "put", "local", GHOST, "--employee-id", people[1].id)
        assert code == 0
        code, result = await _cli("sync", GHOST, "--timeout", "60")
        assert code == 1
        message = result["results"][GHOST]["message"]
        assert "UnknownMailbox" in message and "Exchange Online licence" in message, message
        async with httpx.AsyncClient(base_url=stack.graph.base_url) as graph:
            granted = [r for r in default_roles() if r != "Mail.Send"]
            assert (await graph.put("/_sim/login/roles", json={"roles": granted})).status_code == 200
        code, result = await _cli("doctor")
        problems = {f["check"]: f for s in result["servers"] for f in s["findings"] if not f["ok"]}
        assert code == 1 and set(problems) == {"mailbox", "permissions"}, problems
        assert GHOST in problems["mailbox"]["message"] and "not found in the tenant" in problems["mailbox"]["message"]
        assert "licence" in problems["mailbox"]["fix"]
        assert "Mail.Send" in problems["permissions"]["message"] and "admin-consent" in problems["permissions"]["fix"]
