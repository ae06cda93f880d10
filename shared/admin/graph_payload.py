"""The shape check of Graph change and lifecycle notification bodies (anonymous webhooks).

Anyone can post to these routes, so nothing in the body is trusted before it has the shape Graph
sends: a JSON object whose ``value`` is a list of objects, each field of :data:`FIELD_TYPES` of its
type. :func:`notification_items` returns the items or raises :class:`ValidationFailed` naming the
first bad field (``value[2].clientState``); the handlers then check ``clientState`` and ignore what
does not match. Bodies over :data:`MAX_BODY_BYTES` are refused before they are parsed.
"""

from __future__ import annotations

import json
from typing import Any

from shared.errors import PayloadTooLarge, ValidationFailed

MAX_BODY_BYTES = 1024 * 1024
# Graph notification fields exsync reads or may read, and the JSON type each must have when present.
FIELD_TYPES: dict[str, type] = {
    "subscriptionId": str, "clientState": str, "changeType": str, "resource": str, "tenantId": str,
    "lifecycleEvent": str, "subscriptionExpirationDateTime": str, "resourceData": dict,
}
_JSON_NAMES: dict[type, str] = {str: "a string", dict: "an object", list: "a list"}


def _parse(body: bytes) -> Any:
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge({"(body)": f"{len(body)} bytes; Graph notifications are at most {MAX_BODY_BYTES}"})
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValidationFailed({"(body)": f"not valid JSON: {exc}"}) from exc
    except RecursionError as exc:
        raise ValidationFailed({"(body)": "nested too deeply"}) from exc


def field_error(name: str, value: Any) -> str | None:
    """Why ``value`` is wrong for the notification field ``name`` (None: it is fine or not checked)."""
    expected = FIELD_TYPES.get(name)
    if expected is None or isinstance(value, expected):
        return None
    return f"expected {_JSON_NAMES[expected]}, got {type(value).__name__ if value is not None else 'null'}"


def notification_items(body: bytes) -> list[dict[str, Any]]:
    """The notification objects of a Graph webhook body, or ValidationFailed naming the bad field."""
    data = _parse(body)
    if not isinstance(data, dict):
        raise ValidationFailed({"(body)": "expected a JSON object with a value list"})
    items = data.get("value")
    if not isinstance(items, list):
        raise ValidationFailed({"value": "expected a list of notifications"})
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise ValidationFailed({f"value[{index}]": "expected an object"})
        for name, value in item.items():
            why = field_error(name, value)
            if why is not None:
                raise ValidationFailed({f"value[{index}].{name}": why})
    return items
