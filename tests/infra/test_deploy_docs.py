"""docs/deploy.md carries the runbook issue 8 asks for, consistent with its permission table."""

from __future__ import annotations

import re

import pytest

from tests.infra.conftest import ROOT

DOCS = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("needle", [
    "az deployment group create", "az stack group create", "admin-consent",
    "New-ServicePrincipal", "New-ManagementScope", "New-ManagementRoleAssignment",
    "Test-ServicePrincipalAuthorization", "To Do has no RBAC role", "scripts/infra_check.py",
])
def test_runbook_step_is_documented(needle: str) -> None:
    assert needle in DOCS


def test_powershell_assigns_exactly_the_exchange_roles_of_the_table() -> None:
    table = DOCS.split("<!-- graph-permissions:begin -->")[1].split("<!-- graph-permissions:end -->")[0]
    table_roles = set(re.findall(r"\| (Application [A-Za-z.]+) \|", table))
    script = DOCS.split("```powershell")[1].split("```")[0]
    script_roles = set(re.findall(r'"(Application [A-Za-z.]+)"', script))
    assert table_roles == script_roles and len(script_roles) == 5


def test_documented_exclusions_are_the_exchange_scoped_permissions() -> None:
    table = DOCS.split("<!-- graph-permissions:begin -->")[1].split("<!-- graph-permissions:end -->")[0]
    scoped = set(re.findall(r"\| ([A-Za-z.]+) \| required \| Application ", table))
    line = next(x for x in DOCS.splitlines() if x.startswith("param tenantWideGrantExclusions"))
    assert set(re.findall(r"'([A-Za-z.]+)'", line)) == scoped


FIRST_SYNC = DOCS.split("## 7. The first synced mailbox")[1] if "## 7. The first synced mailbox" in DOCS else ""


@pytest.mark.parametrize("needle", [
    "make package", "--build-remote false", "az functionapp keys list", "pipx install .",
    "exsync servers create --name m365", "exsync servers initialize m365", "exsync doctor",
    "exsync sync ann@contoso.com", "exsync status",
])
def test_first_sync_step_is_documented(needle: str) -> None:
    assert needle in FIRST_SYNC


@pytest.mark.parametrize("section", ["## Upgrade", "## Rollback", "## Back up the state", "## Uninstall"])
def test_day_two_sections_exist(section: str) -> None:
    assert section in DOCS


def test_every_exsync_command_in_the_runbook_parses() -> None:
    """Each `exsync ...` line a partner copies is a valid command of the installed CLI."""
    import shlex

    from shared.cli import build_parser

    lines = [line.strip().split("#")[0].strip() for line in DOCS.splitlines()]
    commands = [line for line in lines if line.startswith("exsync ") and "<" not in line]
    assert len(commands) >= 8
    for command in commands:
        argv = shlex.split(command)[1:]
        argv = [a for a in argv if a != "--version"]
        if argv:
            build_parser().parse_args(argv)  # SystemExit(2) on a wrong command fails the test
