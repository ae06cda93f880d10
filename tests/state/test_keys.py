"""Key encoding: any id becomes a valid, unique, bounded table key; log keys sort newest first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from shared.state import keys

FORBIDDEN = set("/\\#?") | {chr(c) for c in range(0x20)} | {chr(c) for c in range(0x7F, 0xA0)}
ids = st.text(st.characters(codec=None, categories=None), max_size=1500)


def _valid(key: str) -> bool:
    return key.isascii() and not (set(key) & FORBIDDEN) and len(key) <= keys.MAX_KEY_CHARS


@given(ids)
def test_escape_round_trips_and_is_valid(value: str) -> None:
    escaped = keys.escape(value)
    assert keys.unescape(escaped) == value
    assert escaped.isascii() and not (set(escaped) & FORBIDDEN)
    assert keys.HASH_MARK not in escaped and keys.SEPARATOR not in escaped


@given(ids, ids)
def test_keys_are_valid_and_distinct(a: str, b: str) -> None:
    assert _valid(keys.key(a)) and _valid(keys.key("e", a))
    assert (keys.key(a) == keys.key(b)) == (a == b)
    assert (keys.key("x", a) == keys.key("x", b)) == (a == b)


@given(st.text(max_size=300), st.text(max_size=300))
def test_escape_preserves_prefixes_for_range_queries(prefix: str, rest: str) -> None:
    low, high = keys.prefix_range(prefix)
    full = keys.key(prefix + rest)
    if high is None:
        assert prefix == ""
    else:
        assert low <= full < high


def test_hostile_samples_are_plain_or_hashed() -> None:
    assert keys.key("a/b#c?d\\e") == "a!2Fb!23c!3Fd!5Ce"
    assert keys.key("ann@contoso.com", "contact") == "ann@contoso.com:contact"
    long_key = keys.key("x" * 2048)
    assert keys.is_hashed(long_key) and len(long_key) == keys.MAX_KEY_CHARS
    assert not keys.is_hashed(keys.key("x" * 400))
    assert keys.key("p" * 1500 + "A") != keys.key("p" * 1500 + "B")
    assert keys.key("a:b") != keys.key("a", "b")


def test_log_row_keys_sort_newest_first_and_never_collide() -> None:
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    later = keys.log_row_key(t0 + timedelta(microseconds=1), 0)
    earlier = keys.log_row_key(t0, 0)
    assert later < earlier
    assert keys.log_row_key(t0, 5) < keys.log_row_key(t0, 4)
    assert len({keys.log_row_key(t0, 0) for _ in range(1000)}) == 1000
    assert keys.log_row_key(datetime(2026, 3, 1), 0)[:19] == earlier[:19]  # naive is taken as UTC
