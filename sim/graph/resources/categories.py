"""Placeholder: categories routes."""

from __future__ import annotations

from sim.graph.router import Router


def register(router: Router) -> None:
    pass
