"""Simulator entities: PUT upsert and preconditions, 422, strict fields, OData options, files."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx

from tests.sim_acumatica.conftest import E


def w(**values: Any) -> dict[str, Any]:
    return {k: {"value": v} for k, v in values.items()}


async def put(api: httpx.AsyncClient, entity: str, body: dict[str, Any], **headers: str) -> httpx.Response:
    return await api.put(f"{E}/{entity}", json=body, headers=headers)


async def test_put_creates_then_updates_by_id_with_increasing_timestamps(api: httpx.AsyncClient) -> None:
    created = await put(api, "Contact", w(FirstName="Ann", LastName="Lee", Email="ann@example.com"))
    assert created.status_code == 200
    body = created.json()
    assert body["DisplayName"]["value"] == "Ann Lee" and body["NoteID"]["value"] == body["id"]
    assert isinstance(body["ContactID"]["value"], int) and "_links" in body and "rowNumber" in body
    stamps = [body["LastModifiedDateTime"]["value"]]
    for city in ("Oslo", "Rome", "Lima"):  # back-to-back writes, often within one millisecond
        updated = await put(api, "Contact", {"id": body["id"], **w(JobTitle=city)})
        stamps.append(updated.json()["LastModifiedDateTime"]["value"])
    assert stamps == sorted(set(stamps)) and len(set(stamps)) == 4
    by_key = await api.get(f"{E}/Contact/{body['ContactID']['value']}")
    assert by_key.json()["id"] == body["id"] and by_key.json()["JobTitle"]["value"] == "Lima"


async def test_preconditions_answer_412(api: httpx.AsyncClient) -> None:
    created = (await put(api, "Contact", w(LastName="Lee"))).json()
    again = await put(api, "Contact", {"id": created["id"], **w(LastName="Lee")}, **{"If-None-Match": "*"})
    assert again.status_code == 412 and "exceptionMessage" in again.json()
    missing = await put(api, "Contact", {"id": "6f1a2b3c-0000-0000-0000-000000000001", **w(LastName="X")},
                        **{"If-Match": "*"})
    assert missing.status_code == 412
    listed = (await api.get(f"{E}/Contact")).json()
    assert [c["id"] for c in listed] == [created["id"]]


async def test_invalid_values_answer_422_with_per_field_errors(api: httpx.AsyncClient) -> None:
    response = await put(api, "Task", w(Summary="Call", Status="Bogus", Priority="Urgent"))
    assert response.status_code == 422
    body = response.json()
    assert "error" in body["Status"] and "Bogus" in body["Status"]["error"]
    assert "error" in body["Priority"] and "error" not in body["Summary"]
    owner = await put(api, "Contact", w(LastName="Lee", Owner="EP99999999"))
    assert owner.status_code == 422 and "error" in owner.json()["Owner"]
    related = await put(api, "Email", w(Subject="Hi", RelatedEntityType="PX.Objects.CR.Contact",
                                        RelatedEntityNoteID="6f1a2b3c-0000-0000-0000-000000000001"))
    assert related.status_code == 422 and "error" in related.json()["RelatedEntityNoteID"]
    assert (await api.get(f"{E}/Task")).json() == []


async def test_task_status_transitions_follow_acumatica(api: httpx.AsyncClient) -> None:
    draft = (await put(api, "Task", w(Summary="Plan", Status="Draft"))).json()
    refused = await put(api, "Task", {"id": draft["id"], **w(Status="Completed")})
    assert refused.status_code == 422 and "Draft" in refused.json()["Status"]["error"]
    opened = await put(api, "Task", {"id": draft["id"], **w(Status="Open")})
    assert opened.status_code == 200
    done = await put(api, "Task", {"id": draft["id"], **w(Status="Completed")})
    assert done.status_code == 200 and done.json()["CompletedAt"]["value"]


async def test_unknown_fields_and_unwrapped_values_are_rejected(api: httpx.AsyncClient) -> None:
    unknown = await put(api, "Contact", w(LastName="Lee", Nickname="Al"))
    assert unknown.status_code == 400 and "Nickname" in unknown.json()["exceptionMessage"]
    plain = await api.put(f"{E}/Contact", json={"LastName": "Lee"})
    assert plain.status_code == 400
    detail = await put(api, "Event", {**w(Summary="x"), "Attendees": [w(Email="a@example.com", Shoe="9")]})
    assert detail.status_code == 400 and "Shoe" in detail.json()["exceptionMessage"]
    bad_filter = await api.get(f"{E}/Contact", params={"$filter": "Nickname eq 'x'"})
    assert bad_filter.status_code == 400


async def test_filter_on_dates_and_logic(api: httpx.AsyncClient) -> None:
    first = (await put(api, "Contact", w(LastName="A", Owner="EP00000001"))).json()
    middle = (await put(api, "Contact", w(LastName="B", Owner="EP00000002"))).json()
    last = (await put(api, "Contact", w(LastName="C", Owner="EP00000001"))).json()
    t_first, t_last = first["LastModifiedDateTime"]["value"], last["LastModifiedDateTime"]["value"]

    async def names(expr: str) -> list[str]:
        response = await api.get(f"{E}/Contact", params={"$filter": expr, "$select": "LastName"})
        assert response.status_code == 200, response.text
        return [c["LastName"]["value"] for c in response.json()]

    assert await names(f"LastModifiedDateTime gt datetimeoffset'{t_first}'") == ["B", "C"]
    assert await names(f"LastModifiedDateTime lt datetimeoffset'{t_last}'") == ["A", "B"]
    assert await names(f"LastModifiedDateTime gt datetimeoffset'{t_first}' and "
                       f"LastModifiedDateTime lt datetimeoffset'{t_last}'") == ["B"]
    assert await names("LastName eq 'A' or LastName eq 'C'") == ["A", "C"]
    assert await names("Owner eq 'EP00000001' and (LastName eq 'C' or LastName eq 'B')") == ["C"]
    assert await names("substringof('b', LastName)") == ["B"]
    selected = (await api.get(f"{E}/Contact/{middle['id']}", params={"$select": "LastName"})).json()
    assert "Owner" not in selected and selected["LastName"]["value"] == "B"
    page = await api.get(f"{E}/Contact", params={"$top": "1", "$skip": "1"})
    assert [c["id"] for c in page.json()] == [middle["id"]] and page.json()[0]["rowNumber"] == 1


async def test_expand_returns_attendees_and_detail_lines_can_be_deleted(api: httpx.AsyncClient) -> None:
    created = await put(api, "Event", {**w(Summary="Review", StartDate="2026-03-02T09:00:00+00:00",
                                           EndDate="2026-03-02T10:00:00+00:00"),
                                       "Attendees": [w(Email="a@example.com", Name="A"),
                                                     w(Email="b@example.com", Name="B")]})
    assert created.status_code == 200 and "Attendees" not in created.json()
    event_id = created.json()["id"]
    plain = (await api.get(f"{E}/Event/{event_id}")).json()
    assert "Attendees" not in plain
    expanded = (await api.get(f"{E}/Event/{event_id}", params={"$expand": "Attendees"})).json()
    assert [a["Email"]["value"] for a in expanded["Attendees"]] == ["a@example.com", "b@example.com"]
    first = expanded["Attendees"][0]["id"]
    changed = await api.put(f"{E}/Event", params={"$expand": "Attendees"},
                            json={"id": event_id, "Attendees": [{"id": first, "delete": True}]})
    assert [a["Email"]["value"] for a in changed.json()["Attendees"]] == ["b@example.com"]
    duplicate = await put(api, "Event", {"id": event_id, "Attendees": [w(Email="B@example.com")]})
    assert duplicate.status_code == 422


async def test_files_attach_list_and_download(api: httpx.AsyncClient) -> None:
    email = (await put(api, "Email", w(Subject="Quote"))).json()
    response = await api.put(f"{E}/Email/{email['id']}/files/offer%20v1.txt", content=b"offer",
                             headers={"Content-Type": "application/octet-stream"})
    assert response.status_code == 204 and response.headers["Location"].startswith(f"{E}/files/")
    listed = (await api.get(f"{E}/Email/{email['id']}", params={"$expand": "files"})).json()
    [link] = listed["files"]
    assert link["filename"].endswith("\\offer v1.txt")
    download = await api.get(link["href"])
    assert download.content == b"offer" and download.headers["Content-Type"].startswith("text/plain")
    assert (await api.delete(f"{E}/Email/{email['id']}")).status_code == 204
    assert (await api.get(link["href"])).status_code == 404
    assert (await api.get(f"{E}/Email/{email['id']}")).status_code == 404


async def test_every_served_field_is_in_the_generated_list(api: httpx.AsyncClient) -> None:
    fields = json.loads((Path(__file__).parents[2] / "sim" / "acumatica" / "fields.json").read_text())
    entities, system = fields["entities"], set(fields["system"])
    contact = (await put(api, "Contact", {**w(FirstName="A", LastName="B", Email="a@example.com", Owner="EP00000001",
                                              ExtRefNbr="x", Phone1="1", WebSite="https://a.example"),
                                          "Address": w(City="Oslo", Country="NO")})).json()
    await put(api, "Task", w(Summary="T", Status="Open", Priority="High", RelatedEntityType="PX.Objects.CR.Contact",
                             RelatedEntityNoteID=contact["id"]))
    await put(api, "Event", {**w(Summary="E", AllDay=True), "Attendees": [w(Email="a@example.com")]})
    await put(api, "Email", w(Subject="M", From="a@example.com", Incoming=True, MailStatus="Processed"))
    seen = 0

    def check(entity: str, record: dict[str, Any]) -> None:
        nonlocal seen
        for name, value in record.items():
            seen += 1
            assert name in system or name in entities[entity], f"{entity}.{name} is not in the OpenAPI"
            kind = entities[entity].get(name)
            if isinstance(kind, dict) and "array" in kind:
                for line in value:
                    check(kind["array"], line)
            elif isinstance(kind, dict):
                check(kind["object"], value)

    for entity, expand in (("Contact", "Address"), ("Task", ""), ("Event", "Attendees"), ("Email", "files"),
                           ("Employee", "ContactInfo"), ("BusinessAccount", "")):
        for record in (await api.get(f"{E}/{entity}", params={"$expand": expand} if expand else None)).json():
            check(entity, record)
    assert seen > 50
    for entity in ("Contact", "Email", "Task", "Event", "Employee", "BusinessAccount"):
        assert "LastModifiedDateTime" in entities[entity]


async def test_put_with_a_filter_updates_the_record_it_selects_or_fails_412(api: httpx.AsyncClient) -> None:
    body = (await put(api, "Contact", w(LastName="Cas", Email="cas@example.com"))).json()
    stamp = body["LastModifiedDateTime"]["value"]
    unchanged = f"NoteID eq guid'{body['id']}' and LastModifiedDateTime eq datetimeoffset'{stamp}'"
    swapped = await api.put(f"{E}/Contact", params={"$filter": unchanged}, json=w(JobTitle="Buyer"),
                            headers={"If-Match": "*"})
    assert swapped.status_code == 200 and swapped.json()["id"] == body["id"]
    assert swapped.json()["JobTitle"]["value"] == "Buyer" and swapped.json()["LastModifiedDateTime"]["value"] != stamp
    stale = await api.put(f"{E}/Contact", params={"$filter": unchanged}, json=w(JobTitle="Seller"),
                          headers={"If-Match": "*"})
    assert stale.status_code == 412                       # the stamp moved on: no record satisfies the filter
    other_id = (await put(api, "Contact", w(LastName="Dee"))).json()["id"]
    named = await api.put(f"{E}/Contact", params={"$filter": unchanged}, json={"id": other_id, **w(JobTitle="X")})
    assert named.status_code == 412                       # an id the filter does not select is never overwritten
    listed = (await api.get(f"{E}/Contact", params={"$filter": "LastName eq 'Cas'"})).json()
    assert len(listed) == 1 and listed[0]["JobTitle"]["value"] == "Buyer"


async def test_an_overlong_query_string_is_refused_like_iis(api: httpx.AsyncClient) -> None:
    chain = " or ".join(f"Email eq 'someone{n}@example.com'" for n in range(80))
    refused = await api.get(f"{E}/Contact", params={"$filter": chain})
    assert refused.status_code == 404 and "query string is too long" in refused.text
    assert (await api.get(f"{E}/Contact", params={"$filter": chain[:1500].rsplit(" or ", 1)[0]})).status_code == 200


async def test_the_clock_moves_forward_for_stamps_and_the_date_header(api: httpx.AsyncClient,
                                                                      anon: httpx.AsyncClient) -> None:
    before = (await put(api, "Contact", w(LastName="Early"))).json()["LastModifiedDateTime"]["value"]
    assert (await anon.post("/_sim/clock", json={"advance_seconds": -1})).status_code == 400
    assert (await anon.post("/_sim/clock", json={"advance_seconds": 3600})).json()["offset_seconds"] == 3600
    later = await put(api, "Contact", w(LastName="Late"))
    gap = datetime.fromisoformat(later.json()["LastModifiedDateTime"]["value"]) - datetime.fromisoformat(before)
    served = parsedate_to_datetime(later.headers["Date"])
    assert timedelta(minutes=59) < gap < timedelta(minutes=70)
    assert served - datetime.now(UTC) > timedelta(minutes=59)
    assert (await anon.post("/_sim/reset")).status_code == 200
    assert (await anon.get("/_sim/clock")).json()["offset_seconds"] == 0
