"""Session cookies and CSRF tokens: tamper-proof, expiring, bound to the session."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.console.session import ADMIN_ROLE, LIFETIME, Principal, SessionCodec

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
ADA = Principal("Ada", "oid-1", frozenset({ADMIN_ROLE}))


def test_a_cookie_decodes_until_it_expires() -> None:
    codec = SessionCodec(b"k" * 32)
    cookie = codec.encode(ADA, NOW)
    assert codec.decode(cookie, NOW + LIFETIME - timedelta(seconds=1)) == ADA
    assert codec.decode(cookie, NOW + LIFETIME + timedelta(seconds=1)) is None


def test_a_changed_or_foreign_cookie_is_no_session() -> None:
    codec = SessionCodec(b"k" * 32)
    body, mac = codec.encode(ADA, NOW).split(".")
    assert codec.decode(f"{body[:-2]}xx.{mac}", NOW) is None
    assert SessionCodec(b"o" * 32).decode(f"{body}.{mac}", NOW) is None
    assert codec.decode("garbage", NOW) is None


def test_the_csrf_token_belongs_to_one_session() -> None:
    codec = SessionCodec(b"k" * 32)
    first, second = codec.encode(ADA, NOW), codec.encode(ADA, NOW + timedelta(minutes=1))
    token = codec.csrf_token(first)
    assert codec.csrf_ok(first, token)
    assert not codec.csrf_ok(second, token)
    assert not codec.csrf_ok(first, None) and not codec.csrf_ok(None, token)
