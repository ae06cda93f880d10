"""Dates and times of events: ``dateTimeTimeZone`` parsing and rendering in UTC or the preferred zone."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from typing import Any

from sim.graph import ids
from sim.graph.call import Call
from sim.graph.errors import GraphError
from sim.graph.store import Item

_TZ_PREFER = re.compile(r'outlook\.timezone\s*=\s*"([^"]+)"', re.I)


def zone(name: str | None) -> dt.tzinfo:
    if not name or name.upper() in {"UTC", "Z", "GMT"}:
        return dt.UTC
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def instant(value: Any, where: str) -> dt.datetime:
    """A dateTimeTimeZone (or an ISO string) as an aware datetime."""
    if isinstance(value, dict):
        text, tz = value.get("dateTime"), value.get("timeZone")
    else:
        text, tz = value, None
    if not isinstance(text, str):
        raise GraphError(400, "ErrorInvalidRequest", f"'{where}' needs a dateTime.")
    try:
        moment = ids.parse_stamp(text)
    except ValueError as exc:
        raise GraphError(400, "ErrorInvalidRequest", f"'{where}': '{text}' is not a valid date and time.") from exc
    if "+" not in text[10:] and not text.endswith("Z") and tz:
        moment = moment.replace(tzinfo=zone(tz))
    return moment


def as_dttz(moment: dt.datetime, tz_name: str) -> dict[str, str]:
    local = moment.astimezone(zone(tz_name))
    return {"dateTime": local.strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": tz_name}


def render_times(row: dict[str, Any], item: Item, call: Call) -> None:
    match = _TZ_PREFER.search(call.prefer)
    tz_name = match.group(1) if match else "UTC"
    for key in ("start", "end"):
        if key in row and item.data.get(key):
            row[key] = as_dttz(instant(item.data[key], key), tz_name)
