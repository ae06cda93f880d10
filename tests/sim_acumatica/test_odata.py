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


ROWS = [{"NoteID": f"0000000{n}-aaaa-bbbb-cccc-dddddddddddd", "Email": f"P{n}@Example.com", "Owner": f"EP{n % 2}",
         "Age": n} for n in range(8)] + [{"NoteID": None, "Email": 7, "Owner": "EP0", "Age": 99}]


@pytest.mark.parametrize(("expr", "narrowed"), [
    ("Email eq 'p1@example.com' or Email eq 'P3@EXAMPLE.COM' or Email eq 'nobody@example.com'", 2),
    ("(Email eq 'p1@example.com' or Email eq 'p2@example.com') and Owner eq 'EP0'", 2),
    ("Owner eq 'EP1' and (NoteID eq guid'00000004-AAAA-bbbb-cccc-dddddddddddd' or "
     "NoteID eq guid'00000005-aaaa-bbbb-cccc-dddddddddddd')", 2),
    ("Email eq 'p1@example.com' or Owner eq 'EP0'", 9),         # two fields: no narrowing
    ("Email eq 'p1@example.com' or Age gt 5", 9),
    ("not Email eq 'p1@example.com'", 9),
    ("Age eq 3", 9),                                            # not a text: no narrowing
])
def test_equality_keys_narrow_a_query_without_changing_its_rows(expr: str, narrowed: int) -> None:
    node = odata.parse(expr, lambda path: True)
    every = [r for r in ROWS if odata.evaluate(node, r)]
    assert [r for r in odata.candidates(node, ROWS) if odata.evaluate(node, r)] == every
    assert len(odata.candidates(node, ROWS)) == narrowed
