"""Events (calendarView, calendarView/delta, cancel, transactionId), To Do lists/tasks/delta/linkedResources,
master categories."""

from __future__ import annotations

from typing import Any

import httpx

from tests.sim_graph.conftest import drain, error_code, user

WINDOW = {"startDateTime": "2030-01-01T00:00:00Z", "endDateTime": "2030-02-01T00:00:00Z"}


def _event(subject: str, day: int, month: int = 1, **extra: Any) -> dict[str, Any]:
    return {"subject": subject,
            "start": {"dateTime": f"2030-{month:02d}-{day:02d}T09:00:00", "timeZone": "UTC"},
            "end": {"dateTime": f"2030-{month:02d}-{day:02d}T10:00:00", "timeZone": "UTC"}, **extra}


def test_event_create_with_attendees_and_time_zone(graph: httpx.Client) -> None:
    body = _event("Review", 3, attendees=[{"emailAddress": {"address": "x@fabrikam.test", "name": "X"},
                                           "type": "required"}])
    body["start"] = {"dateTime": "2030-01-03T09:00:00", "timeZone": "Europe/Berlin"}
    body["end"] = {"dateTime": "2030-01-03T10:00:00", "timeZone": "Europe/Berlin"}
    created = graph.post(user("/events"), json=body)
    assert created.status_code == 201
    event = created.json()
    assert event["start"] == {"dateTime": "2030-01-03T08:00:00.0000000", "timeZone": "UTC"}
    assert event["originalStartTimeZone"] == "Europe/Berlin"
    assert event["attendees"][0]["status"]["response"] == "none"
    assert event["isOrganizer"] is True and event["@odata.etag"] == f'W/"{event["changeKey"]}"'
    local = graph.get(user(f"/events/{event['id']}"),
                      headers={"Prefer": 'outlook.timezone="Europe/Berlin"'}).json()
    assert local["start"]["dateTime"].startswith("2030-01-03T09:00:00")
    bad = graph.post(user("/events"), json={"subject": "no times"})
    assert bad.status_code == 400


def test_transaction_id_deduplicates_creates(graph: httpx.Client) -> None:
    body = _event("Once", 4, transactionId="tx-42")
    first = graph.post(user("/events"), json=body).json()
    second = graph.post(user("/events"), json=body).json()
    assert first["id"] == second["id"]
    assert len(graph.get(user("/events")).json()["value"]) == 1


def test_calendar_view_and_delta_window(graph: httpx.Client) -> None:
    inside = graph.post(user("/events"), json=_event("In", 10)).json()
    graph.post(user("/events"), json=_event("Out", 10, month=3)).raise_for_status()
    view = graph.get(user("/calendarView"), params=WINDOW).json()["value"]
    assert [e["subject"] for e in view] == ["In"]
    assert graph.get(user("/calendarView")).status_code == 400
    rows, link = drain(graph, user("/calendarView/delta()"), params=WINDOW)
    assert [r["subject"] for r in rows] == ["In"]
    graph.patch(user(f"/events/{inside['id']}"), json=_event("Moved out", 5, month=4)).raise_for_status()
    graph.post(user("/events"), json=_event("New", 20)).raise_for_status()
    changes, _ = drain(graph, link)
    by_id = {r["id"]: r for r in changes}
    assert by_id[inside["id"]]["@removed"] == {"reason": "deleted"}
    assert [r["subject"] for r in changes if "subject" in r] == ["New"]


def test_cancel_is_organizer_only_and_removes_the_event(graph: httpx.Client) -> None:
    event = graph.post(user("/events"), json=_event("Meet", 12)).json()
    _, link = drain(graph, user("/calendarView/delta"), params=WINDOW)
    bad = graph.post(user(f"/events/{event['id']}/cancel"), json={"comment": "x", "reason": "y"})
    assert bad.status_code == 400
    assert graph.post(user(f"/events/{event['id']}/cancel"), json={"comment": "Sorry"}).status_code == 202
    assert graph.get(user(f"/events/{event['id']}")).status_code == 404
    changes, _ = drain(graph, link)
    assert changes[0]["@removed"] == {"reason": "deleted"}
    guest = graph.post(user("/events"), json=_event("Theirs", 13, isOrganizer=False)).json()
    refused = graph.post(user(f"/events/{guest['id']}/cancel"), json={"comment": "no"})
    assert refused.status_code == 400


def test_todo_default_list_tasks_status_and_linked_resources(graph: httpx.Client) -> None:
    lists = graph.get(user("/todo/lists")).json()["value"]
    default = next(x for x in lists if x["wellknownListName"] == "defaultList")
    base = f"/todo/lists/{default['id']}/tasks"
    task = graph.post(user(base), json={
        "title": "Call back", "status": "waitingOnOthers",
        "linkedResources": [{"webUrl": "https://erp.test/t/1", "applicationName": "exsync",
                             "displayName": "ERP task", "externalId": "T-1"}]}).json()
    assert task["status"] == "waitingOnOthers" and task["@odata.etag"].startswith('W/"')
    for status in ("notStarted", "inProgress", "deferred", "completed"):
        patched = graph.patch(user(f"{base}/{task['id']}"), json={"status": status}).json()
        assert patched["status"] == status
    assert patched["completedDateTime"]["timeZone"] == "UTC"
    bad = graph.patch(user(f"{base}/{task['id']}"), json={"status": "done"})
    assert bad.status_code == 400
    links = graph.get(user(f"{base}/{task['id']}/linkedResources")).json()["value"]
    assert [link["externalId"] for link in links] == ["T-1"]
    found = graph.get(user(base), params={
        "$expand": "linkedResources", "$filter": "linkedResources/any(r: r/externalId eq 'T-1')"}).json()
    assert [t["id"] for t in found["value"]] == [task["id"]]
    assert found["value"][0]["linkedResources"][0]["applicationName"] == "exsync"


def test_tasks_delta_sees_link_changes_and_deletes(graph: httpx.Client) -> None:
    created = graph.post(user("/todo/lists"), json={"displayName": "ERP"}).json()
    base = f"/todo/lists/{created['id']}/tasks"
    one = graph.post(user(base), json={"title": "one"}).json()
    two = graph.post(user(base), json={"title": "two"}).json()
    rows, link = drain(graph, user(f"{base}/delta"))
    assert {r["title"] for r in rows} == {"one", "two"}
    graph.post(user(f"{base}/{one['id']}/linkedResources"),
               json={"externalId": "T-9", "applicationName": "exsync", "displayName": "x"}).raise_for_status()
    graph.delete(user(f"{base}/{two['id']}")).raise_for_status()
    changes, _ = drain(graph, link)
    assert {r["id"]: r.get("@removed") for r in changes} == {one["id"]: None, two["id"]: {"reason": "deleted"}}


def test_master_categories(graph: httpx.Client) -> None:
    presets = graph.get(user("/outlook/masterCategories")).json()["value"]
    assert any(c["displayName"] == "Red category" and c["color"] == "preset0" for c in presets)
    made = graph.post(user("/outlook/masterCategories"), json={"displayName": "ERP", "color": "preset24"})
    assert made.status_code == 201
    dup = graph.post(user("/outlook/masterCategories"), json={"displayName": "erp", "color": "preset1"})
    assert dup.status_code == 409
    bad = graph.post(user("/outlook/masterCategories"), json={"displayName": "Y", "color": "preset25"})
    assert bad.status_code == 400 and error_code(bad) == "RequestBodyRead"
    ident = made.json()["id"]
    assert graph.patch(user(f"/outlook/masterCategories/{ident}"), json={"color": "preset2"}).status_code == 200
    rename = graph.patch(user(f"/outlook/masterCategories/{ident}"), json={"displayName": "Z"})
    assert rename.status_code == 400
    tagged = graph.post(user("/contacts"), json={"givenName": "T", "categories": ["ERP"]}).json()
    assert tagged["categories"] == ["ERP"]
    assert graph.delete(user(f"/outlook/masterCategories/{ident}")).status_code == 204


def test_linked_resources_are_not_deep_updated(graph: httpx.Client) -> None:
    created = graph.post(user("/todo/lists"), json={"displayName": "Deep"}).json()
    base = f"/todo/lists/{created['id']}/tasks"
    task = graph.post(user(base), json={"title": "t", "linkedResources": [
        {"externalId": "T-1", "applicationName": "exsync", "displayName": "x"}]}).json()
    deep = graph.patch(user(f"{base}/{task['id']}"), json={"linkedResources": [
        {"externalId": "T-2", "applicationName": "exsync", "displayName": "x"}]})
    assert deep.status_code == 400 and "linkedResources" in deep.json()["error"]["message"]
    links = graph.get(user(f"{base}/{task['id']}/linkedResources")).json()["value"]
    assert [link["externalId"] for link in links] == ["T-1"]
