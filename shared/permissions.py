"""The Graph application permissions exsync requires, read from ``graph_permissions.json``.

That JSON file is the single source shared by Bicep (``loadJsonContent``), the doctor check
and the deployment docs; a test keeps them equal.
"""

from __future__ import annotations

import dataclasses
import json
from functools import cache
from pathlib import Path

PERMISSIONS_FILE = Path(__file__).with_name("graph_permissions.json")


@dataclasses.dataclass(frozen=True, slots=True)
class Permission:
    name: str
    id: str
    why: str


@cache
def _load() -> dict[str, list[Permission]]:
    data = json.loads(PERMISSIONS_FILE.read_text(encoding="utf-8"))
    return {key: [Permission(**p) for p in data[key]] for key in ("required", "optional")}


def required_permissions() -> list[Permission]:
    """Permissions sync cannot work without."""
    return list(_load()["required"])


def optional_permissions() -> list[Permission]:
    """Permissions for credential expiry reading and secret rotation."""
    return list(_load()["optional"])
