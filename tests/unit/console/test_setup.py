"""The session key is created once in the state store and then shared by every instance."""

from __future__ import annotations

import asyncio

from shared.console.setup import KEY, KIND, session_key
from shared.state.memory import InMemoryStateStore


async def test_the_key_is_made_once_and_every_caller_gets_the_same() -> None:
    store = InMemoryStateStore()
    first, second = await asyncio.gather(session_key(store), session_key(store))
    assert first == second and len(first) == 32
    assert await session_key(store) == first
    await store.delete_doc(KIND, KEY)   # deleting it signs everyone out: a new key
    assert await session_key(store) != first
