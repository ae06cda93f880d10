"""Graph resource handlers, one module per area; ``register_all`` wires them into a Router."""

from __future__ import annotations

from sim.graph.resources import (
    applications,
    attachments,
    calendar,
    categories,
    contacts,
    mail,
    replies,
    subscriptions,
    todo,
    users,
)
from sim.graph.router import Router


def register_all(router: Router) -> None:
    for module in (users, contacts, replies, mail, attachments, calendar, todo, categories, subscriptions,
                   applications):
        module.register(router)
