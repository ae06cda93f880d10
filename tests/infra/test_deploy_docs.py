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
