"""A measured fix for msgraph-sdk's per-object deserialisation cost.

``msgraph.generated.models.entity.Entity.get_field_deserializers`` runs ~2,400 ``from .x import X``
statements on *every* call, only to return the two fields every entity has (``id`` and
``@odata.type``). Every Graph object we parse (contacts, messages, events, tasks, batch answers)
goes through it: ~20 ms of CPU per object, 40 s for a 2,000-item sync. :func:`install` swaps in
an equivalent without the imports, after checking that the original still returns exactly those
two fields (if a future msgraph-sdk changes that, the original stays in place).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from msgraph.generated.models.entity import Entity

logger = logging.getLogger(__name__)

_EXPECTED = {"id", "@odata.type"}
ORIGINAL = Entity.get_field_deserializers
"""msgraph-sdk's own Entity field table (kept for the equivalence test and to undo)."""
_state = {"installed": False}


def _entity_fields(self: Any) -> dict[str, Callable[[Any], None]]:
    return {
        "id": lambda n: setattr(self, "id", n.get_str_value()),
        "@odata.type": lambda n: setattr(self, "odata_type", n.get_str_value()),
    }


def install() -> bool:
    """Install the fast Entity field table once; True when it is in place."""
    if _state["installed"]:
        return True
    if set(ORIGINAL(Entity())) != _EXPECTED:  # also imports every model once (the warm-up)
        logger.warning("msgraph-sdk Entity fields changed; keeping its slow deserialiser")
        return False
    Entity.get_field_deserializers = _entity_fields
    _state["installed"] = True
    return True
