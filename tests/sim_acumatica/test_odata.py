"""The simulator's $filter parser and evaluator (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sim.acumatica import odata

ROW = {"LastName": "O'Hara", "Owner": "EP1", "Age": 41, "Active": True, "Address": {"City": "Oslo"},
       "LastModifiedDateTime": datetime(2026, 3, 2, 9, 30, tzinfo=UTC), "Email": None}


def check(expr: str) -> bool:
    return bool(odata.evaluate(odata.parse(expr, lambda path: True), ROW))


@pytest.mark.parametrize(("expr", "expected"), [
    ("LastName eq 'O''Hara'", True),
    ("LastName eq 'o''hara'", True),                       # SQL Server collation: case-insensitive
    ("LastName ne 'x' and Owner eq 'EP1'", True),
    ("Owner eq 'EP2' or (Age gt 40 and Age le 41)", True),
    ("not Active eq true", False),
    ("Address/City eq 'Oslo'", True),
    ("Email eq null", True),
    ("Email gt 'a'", False),
    ("LastModifiedDateTime gt datetimeoffset'2026-03-02T10:29:59+01:00'", True),
    ("LastModifiedDateTime lt datetimeoffset'2026-03-02T09:30:00Z'", False),
    ("LastModifiedDateTime ge datetime'2026-03-02T09:30:00'", True),
    ("substringof('hara', LastName)", True),
    ("startswith(LastName, 'O''')", True),
    ("endswith(LastName, 'x')", False),
])
def test_expressions(expr: str, expected: bool) -> None:
    assert check(expr) is expected


@pytest.mark.parametrize("expr", ["LastName eq", "LastName eq 'x' and", "(LastName eq 'x'", "LastName",
                                  "LastModifiedDateTime gt datetimeoffset'yesterday'", "LastName eq 'x' $"])
def test_malformed_expressions_are_rejected(expr: str) -> None:
    with pytest.raises(odata.FilterError):
        odata.parse(expr, lambda path: True)


def test_unknown_fields_are_rejected() -> None:
    with pytest.raises(odata.FilterError, match="Nickname"):
        odata.parse("Nickname eq 'x'", lambda path: path == "LastName")
