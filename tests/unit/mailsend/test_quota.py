"""The per-mailbox quota: the minute window, the 24-hour recipients (erring high), the 80 % warning."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.mailsend.quota import Quota, status

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_the_31st_message_of_a_minute_waits_for_the_first_to_leave() -> None:
    quota = Quota()
    for i in range(30):
        quota.record(T0 + timedelta(seconds=i), 1)
    usage = quota.usage(T0 + timedelta(seconds=30))
    assert (usage.minute_messages, usage.minute_free_at) == (30, T0 + timedelta(minutes=1))
    assert quota.usage(T0 + timedelta(minutes=1, milliseconds=500)).minute_messages == 29


def test_day_recipients_survive_the_document_and_free_up_after_24_hours() -> None:
    quota = Quota()
    quota.record(T0, 6_000)
    quota.record(T0 + timedelta(hours=5), 3_000)
    again = Quota.from_doc(quota.to_doc())
    usage = again.usage(T0 + timedelta(hours=6), wanted=2_000)
    assert usage.day_recipients == 9_000
    assert usage.day_free_at is not None and T0 + timedelta(hours=24) <= usage.day_free_at <= \
        T0 + timedelta(hours=24, minutes=10)
    assert again.usage(T0 + timedelta(hours=24, minutes=11)).day_recipients == 3_000


def test_warning_at_80_percent_of_the_day() -> None:
    quota = Quota()
    quota.record(T0, 7_999)
    assert status(quota.usage(T0))["warning"] is None
    quota.record(T0, 1)
    shown = status(quota.usage(T0))
    assert shown["recipients_last_24h"] == 8_000 and "80%" in shown["warning"]
