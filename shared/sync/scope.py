"""The scope rules, as the engine imports them (they live in :mod:`shared.scope`, below the engine)."""

from __future__ import annotations

from shared.scope import in_scope, scope_known

__all__ = ["in_scope", "scope_known"]
