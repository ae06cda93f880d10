"""The runtime's ERP sessions against the Acumatica simulator: reused across runs, logged out at
shutdown, bounded waits, and a refused login that says who holds the licence."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from shared.domain.records import RecordType
from shared.erp.session import licence_held_message
from shared.errors import ErpUnavailable, Throttled
from shared.runtime import Runtime, acumatica_sessions
from shared.settings import Settings
from tests.erp.harness import admin, plain_client
from tests.erp.test_acumatica_gateway import ALL, LOGIN, logins


def _settings(url: str, sessions: int = 1) -> Settings:
    return Settings.from_env({"EXSYNC_ERP_URL": url, "EXSYNC_ERP_USERNAME": "admin", "EXSYNC_ERP_PASSWORD": "setup",
                              "EXSYNC_ERP_TENANT": "Company", "EXSYNC_ERP_MAX_SESSIONS": str(sessions)})


def _runtime(url: str, wait: float = 5.0) -> tuple[Runtime, object]:
    settings = _settings(url)
    pool = acumatica_sessions(settings)
    rt = Runtime(settings=settings, state=None, queue=None, mailbox_gateway=None,  # type: ignore[arg-type]
                 erp_gateway=pool.gateway, erp_wait_seconds=wait, closers=[pool.aclose])
    return rt, pool


async def test_runs_in_one_process_reuse_one_session_and_shutdown_logs_it_out(acumatica_url: str) -> None:
    rt, pool = _runtime(acumatica_url)
    for _ in range(3):  # three runs in turn
        async with rt.erp_session() as erp:
            await erp.list_ids(RecordType.CONTACT, ALL, None, 10)
    assert await logins(acumatica_url) == 1 and pool.sessions == 1  # type: ignore[attr-defined]
    assert (await admin(acumatica_url, "GET", "sessions"))["active"] == 1  # kept for the next run
    await rt.aclose()
    assert (await admin(acumatica_url, "GET", "sessions"))["active"] == 0


async def test_a_run_waits_a_bounded_time_for_the_only_session(acumatica_url: str) -> None:
    rt, _ = _runtime(acumatica_url, wait=0.2)
    async with rt.erp_session():
        with pytest.raises(ErpUnavailable, match="EXSYNC_ERP_MAX_SESSIONS"):
            async with rt.erp_session():
                pass  # pragma: no cover
    async with rt.erp_session() as erp:  # the slot is free again
        assert (await erp.list_ids(RecordType.CONTACT, ALL, None, 10)).complete
    await rt.aclose()


async def test_a_refused_login_names_orphaned_sessions_and_when_they_expire(acumatica_url: str) -> None:
    orphans = [plain_client(), plain_client()]  # e.g. a process killed before it logged out
    for other in orphans:
        assert (await other.post(f"{acumatica_url}/entity/auth/login", json=LOGIN)).status_code == 204
    rt, _ = _runtime(acumatica_url)
    async with rt.erp_session() as erp:
        erp.session._max_retries = 0  # type: ignore[attr-defined]  # report at once
        with pytest.raises(Throttled, match="orphaned sessions") as info:
            await erp.list_ids(RecordType.CONTACT, ALL, None, 10)
    assert "API Login Limit" in str(info.value) and "UTC" in str(info.value)
    await rt.aclose()
    for other in orphans:
        await other.post(f"{acumatica_url}/entity/auth/logout")
        await other.aclose()
    await asyncio.sleep(0)


def test_licence_message_says_when_the_sessions_expire() -> None:
    text = licence_held_message("API Login Limit", datetime(2026, 11, 20, 8, 0, tzinfo=UTC))
    assert "by about 08:10 UTC" in text and "orphaned" in text and "EXSYNC_ERP_MAX_SESSIONS" in text


async def test_the_sessions_of_a_process_share_one_concurrent_request_bound(acumatica_url: str) -> None:
    settings = Settings.from_env({"EXSYNC_ERP_URL": acumatica_url, "EXSYNC_ERP_USERNAME": "admin",
                                  "EXSYNC_ERP_PASSWORD": "setup", "EXSYNC_ERP_TENANT": "Company",
                                  "EXSYNC_ERP_MAX_SESSIONS": "2", "EXSYNC_ERP_MAX_CONCURRENT_REQUESTS": "3"})
    pool = acumatica_sessions(settings)
    first, second = await pool.gateway(), await pool.gateway()
    await asyncio.gather(*(erp.list_ids(RecordType.CONTACT, ALL, None, 10) for erp in (first, second)
                           for _ in range(5)))
    slots = first.session.slots  # type: ignore[attr-defined]
    assert slots is second.session.slots and slots.limit == 3 and 1 <= slots.peak <= 3  # type: ignore[attr-defined]
    assert pool.sessions == 2
    for erp in (first, second):
        await erp.aclose()
    await pool.aclose()
