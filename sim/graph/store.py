"""In-memory mailbox state: items by kind and container, ids, change keys and the change log for delta.

Every mutation bumps the mailbox's sequence number; an item remembers the sequence of its last
change, and removals (delete, move out of a container) leave a tombstone. A delta query is then
"items of this container changed after sequence S, plus tombstones after S".
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from sim.graph import ids

# kinds whose regular id changes when they move to another container
MOVABLE = frozenset({"message", "contact", "event"})


@dataclasses.dataclass
class Item:
    kind: str
    iid: str            # immutable id
    rid: str            # regular id (changes on move)
    container: str | None
    data: dict[str, Any]
    change_key: str
    created: str
    modified: str
    seq: int
    ext: dict[str, tuple[str, str]] = dataclasses.field(default_factory=dict)  # lower id -> (id, value)

    def ident(self, immutable: bool) -> str:
        return self.iid if immutable else self.rid


@dataclasses.dataclass(frozen=True)
class Tombstone:
    seq: int
    kind: str
    container: str | None
    iid: str
    rid: str
    reason: str         # "deleted" (gone) or "changed" (moved out of the container)


class Mailbox:
    """One user's mailbox: contacts, mail, calendar, To Do, categories."""

    def __init__(self, user: dict[str, Any]) -> None:
        self.user = user
        self.seq = 0
        self.items: dict[str, Item] = {}                 # by immutable id
        self.index: dict[str, Item] = {}                 # by immutable or current regular id
        self.by_container: dict[tuple[str, str | None], dict[str, Item]] = {}
        self.tombstones: list[Tombstone] = []
        self.wellknown: dict[str, str] = {}              # well-known name -> immutable id

    @property
    def upn(self) -> str:
        return str(self.user["userPrincipalName"])

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def add(self, kind: str, container: str | None, data: dict[str, Any]) -> Item:
        iid = ids.immutable_id()
        rid = ids.rest_id() if kind in MOVABLE else iid
        moment = ids.stamp()
        item = Item(kind, iid, rid, container, data, ids.change_key(), moment, moment, self.next_seq())
        self.items[iid] = item
        self.index[iid] = item
        self.index[rid] = item
        self.by_container.setdefault((kind, container), {})[iid] = item
        return item

    def get(self, item_id: str, kind: str | None = None) -> Item | None:
        item = self.index.get(item_id)
        if item is None or (kind is not None and item.kind != kind):
            return None
        return item

    def touch(self, item: Item) -> None:
        """Record a change: new change key, modification time and sequence."""
        item.change_key = ids.change_key()
        item.modified = ids.stamp()
        item.seq = self.next_seq()

    def move(self, item: Item, container: str) -> None:
        """Move to another container; a movable item gets a new regular id."""
        if container == item.container:
            return
        self._tomb(item, "changed")
        self.by_container.get((item.kind, item.container), {}).pop(item.iid, None)
        if item.kind in MOVABLE:
            self.index.pop(item.rid, None)
            item.rid = ids.rest_id()
            self.index[item.rid] = item
        item.container = container
        self.by_container.setdefault((item.kind, container), {})[item.iid] = item
        self.touch(item)

    def delete(self, item: Item) -> None:
        self._tomb(item, "deleted")
        self.items.pop(item.iid, None)
        self.index.pop(item.iid, None)
        self.index.pop(item.rid, None)
        self.by_container.get((item.kind, item.container), {}).pop(item.iid, None)
        for child in [c for c in self.items.values() if c.container == item.iid]:
            self.delete(child)

    def _tomb(self, item: Item, reason: str) -> None:
        self.tombstones.append(Tombstone(self.next_seq(), item.kind, item.container, item.iid, item.rid,
                                         reason))

    def in_container(self, kind: str, container: str | None) -> list[Item]:
        return sorted(self.by_container.get((kind, container), {}).values(), key=lambda i: i.seq)

    def of_kind(self, kind: str) -> Iterable[Item]:
        return (item for item in self.items.values() if item.kind == kind)

    def changes(self, kind: str, container: str | None, since: int, upto: int
                ) -> tuple[list[Item], list[Tombstone]]:
        """Items changed and tombstones left in ``(since, upto]`` for one container."""
        live = [i for i in self.in_container(kind, container) if since < i.seq]
        present = {i.iid for i in self.by_container.get((kind, container), {}).values()}
        gone: dict[str, Tombstone] = {}
        for tomb in self.tombstones:
            if (since < tomb.seq <= upto and tomb.kind == kind and tomb.container == container
                    and tomb.iid not in present):
                gone[tomb.iid] = tomb
        return live, list(gone.values())

    def clear(self) -> None:
        self.items.clear()
        self.index.clear()
        self.by_container.clear()
        self.tombstones.clear()
        self.wellknown.clear()
