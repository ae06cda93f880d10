"""Calendars and events: ``calendarView`` and ``calendarView/delta`` (fixed window), attendees,
``cancel`` (organizer only), ``transactionId`` de-duplication.

Times: ``dateTimeTimeZone`` values are read in their IANA or ``UTC`` zone (unknown Windows zone
names are read as UTC) and answered in UTC, or in the zone of ``Prefer: outlook.timezone``.
Recurrence is stored and returned but series are not expanded: a series is one item.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sim.graph import ids, items, schema
from sim.graph.call import Call, Reply, no_content
from sim.graph.delta import delta_reply
from sim.graph.errors import GraphError
from sim.graph.router import Router
from sim.graph.store import Item, Mailbox
from sim.graph.tenant import container_of
from sim.graph.times import instant

if TYPE_CHECKING:
    from sim.graph.state import SimState as Sim

NO_TIME = "0001-01-01T00:00:00Z"


def _calendar(mailbox: Mailbox, calendar: str | None) -> str:
    return container_of(mailbox, "calendar", calendar or "calendar").iid


def _window(call: Call) -> tuple[dt.datetime, dt.datetime]:
    start, end = call.query.get("startDateTime"), call.query.get("endDateTime")
    if not start or not end:
        raise GraphError(400, "ErrorInvalidParameter",
                         "This request requires a time window specified by the query string parameters "
                         "StartDateTime and EndDateTime.")
    return instant(start, "startDateTime"), instant(end, "endDateTime")


def overlaps(item: Item, start: dt.datetime, end: dt.datetime) -> bool:
    begins = instant(item.data["start"], "start")
    ends = instant(item.data["end"], "end")
    return (begins < end and ends > start) or (begins == ends and start <= begins < end)


def _defaults(mailbox: Mailbox) -> dict[str, Any]:
    me = {"emailAddress": {"name": mailbox.user["displayName"], "address": mailbox.upn}}
    return {"isOrganizer": True, "organizer": me, "isCancelled": False, "isAllDay": False,
            "type": "singleInstance", "showAs": "busy", "sensitivity": "normal", "importance": "normal",
            "responseRequested": True, "isReminderOn": True, "reminderMinutesBeforeStart": 15,
            "responseStatus": {"response": "organizer", "time": NO_TIME}, "attendees": [],
            "categories": [], "iCalUId": "040000008200E00074C5B7101A82E008" + ids.change_key().upper(),
            "body": {"contentType": "text", "content": ""}, "allowNewTimeProposals": True}


def _check_times(body: dict[str, Any], item: Item | None = None) -> None:
    start = body.get("start", item.data.get("start") if item else None)
    end = body.get("end", item.data.get("end") if item else None)
    if start is None or end is None:
        raise GraphError(400, "ErrorInvalidRequest", "An event needs 'start' and 'end' (dateTimeTimeZone).")
    if instant(end, "end") < instant(start, "start"):
        raise GraphError(400, "ErrorInvalidRequest", "'end' must not be before 'start'.")


def _with_status(attendees: list[Any]) -> list[Any]:
    out = []
    for attendee in attendees or []:
        if isinstance(attendee, dict):
            attendee = {"type": "required", "status": {"response": "none", "time": NO_TIME}, **attendee}
        out.append(attendee)
    return out


async def list_events(call: Call, sim: Sim, user: str, calendar: str | None = None) -> Reply:
    mailbox = sim.tenant.mailbox(user)
    return items.list_reply(call, mailbox, mailbox.in_container("event", _calendar(mailbox, calendar)), "events")


async def create_event(call: Call, sim: Sim, user: str, calendar: str | None = None) -> Reply:
    mailbox = sim.tenant.mailbox(user)
    body = call.json_object()
    transaction = body.get("transactionId")
    if isinstance(transaction, str):
        known = sim.tenant.transactions.get((mailbox.upn.lower(), transaction))
        existing = mailbox.get(known, "event") if known else None
        if existing is not None:
            return items.item_reply(call, mailbox, existing, "events", 201)
    _check_times(body)
    item = items.create(call, sim, mailbox, "event", _calendar(mailbox, calendar), _defaults(mailbox), body)
    item.data["attendees"] = _with_status(item.data.get("attendees") or [])
    item.data["originalStartTimeZone"] = (body.get("start") or {}).get("timeZone")
    item.data["originalEndTimeZone"] = (body.get("end") or {}).get("timeZone")
    if isinstance(transaction, str):
        sim.tenant.transactions[(mailbox.upn.lower(), transaction)] = item.iid
    return items.item_reply(call, mailbox, item, "events", 201)


async def event(call: Call, sim: Sim, user: str, ident: str, calendar: str | None = None) -> Reply:
    mailbox = sim.tenant.mailbox(user)
    container = _calendar(mailbox, calendar) if calendar else None
    item = items.lookup(mailbox, "event", ident, container)
    if call.method == "GET":
        return items.item_reply(call, mailbox, item, "events")
    if call.method == "PATCH":
        body = call.json_object()
        _check_times(body, item)
        items.update(call, sim, mailbox, item, body)
        if "attendees" in body:
            item.data["attendees"] = _with_status(item.data.get("attendees") or [])
        return items.item_reply(call, mailbox, item, "events")
    items.remove(call, sim, mailbox, item)
    return no_content()


async def cancel(call: Call, sim: Sim, user: str, ident: str, calendar: str | None = None) -> Reply:
    mailbox = sim.tenant.mailbox(user)
    item = items.lookup(mailbox, "event", ident)
    schema.action_params(call.json_object(), ["comment"], "cancel")
    if not item.data.get("isOrganizer"):
        raise GraphError(400, "ErrorInvalidRequest", "Your request can't be completed. You need to be an "
                         "organizer to cancel a meeting.")
    item.data["isCancelled"] = True
    items.remove(call, sim, mailbox, item)
    return Reply(202)


async def calendar_view(call: Call, sim: Sim, user: str, calendar: str | None = None) -> Reply:
    mailbox = sim.tenant.mailbox(user)
    start, end = _window(call)
    found = [i for i in mailbox.in_container("event", _calendar(mailbox, calendar)) if overlaps(i, start, end)]
    found.sort(key=lambda i: instant(i.data["start"], "start"))
    return items.list_reply(call, mailbox, found, "events")


async def calendar_view_delta(call: Call, sim: Sim, user: str, calendar: str | None = None) -> Reply:
    mailbox = sim.tenant.mailbox(user)
    options: dict[str, Any] = {}
    if "$skiptoken" not in call.query and "$deltatoken" not in call.query:
        start, end = _window(call)
        options = {"window": (start.isoformat(), end.isoformat())}

    def in_window(item: Item, opts: dict[str, Any]) -> bool:
        low, high = (dt.datetime.fromisoformat(v) for v in opts["window"])
        return overlaps(item, low, high)

    return delta_reply(call, sim, mailbox, "event", _calendar(mailbox, calendar), "event", options, in_window)


async def list_calendars(call: Call, sim: Sim, user: str) -> Reply:
    mailbox = sim.tenant.mailbox(user)
    return items.list_reply(call, mailbox, mailbox.in_container("calendar", None), "calendars")


async def create_calendar(call: Call, sim: Sim, user: str) -> Reply:
    mailbox = sim.tenant.mailbox(user)
    name = call.json_object().get("name")
    if not isinstance(name, str) or not name.strip():
        raise GraphError(400, "ErrorInvalidRequest", "'name' is required to create a calendar.")
    if any(c.data.get("name", "").lower() == name.lower() for c in mailbox.in_container("calendar", None)):
        raise GraphError(409, "ErrorFolderExists", "A folder with the specified name already exists.")
    item = items.create(call, sim, mailbox, "calendar", None, {"isDefaultCalendar": False})
    return items.item_reply(call, mailbox, item, "calendars", 201)


async def calendar_item(call: Call, sim: Sim, user: str, calendar: str | None = None) -> Reply:
    mailbox = sim.tenant.mailbox(user)
    item = container_of(mailbox, "calendar", calendar or "calendar")
    if call.method == "GET":
        return items.item_reply(call, mailbox, item, "calendars")
    if item.iid == mailbox.wellknown["calendar"]:
        raise GraphError(400, "ErrorInvalidRequest", "The primary calendar cannot be changed or deleted.")
    if call.method == "PATCH":
        items.update(call, sim, mailbox, item)
        return items.item_reply(call, mailbox, item, "calendars")
    items.remove(call, sim, mailbox, item)
    return no_content()


def register(router: Router) -> None:
    base = "users/{user}"
    router.add("GET", f"{base}/calendar", calendar_item)
    router.add("GET", f"{base}/calendars", list_calendars)
    router.add("POST", f"{base}/calendars", create_calendar)
    router.add("GET,PATCH,DELETE", f"{base}/calendars/{{calendar}}", calendar_item)
    for prefix in (base, f"{base}/calendar", f"{base}/calendars/{{calendar}}"):
        router.add("GET", f"{prefix}/calendarView/delta", calendar_view_delta)
        router.add("GET", f"{prefix}/calendarView", calendar_view)
        router.add("GET", f"{prefix}/events", list_events)
        router.add("POST", f"{prefix}/events", create_event)
        router.add("GET,PATCH,DELETE", f"{prefix}/events/{{ident}}", event)
        router.add("POST", f"{prefix}/events/{{ident}}/cancel", cancel)
