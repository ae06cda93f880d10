"""Graph accepts enum values in any case (Microsoft's sendMail example sends ``"Text"``); the
simulator too, answering in Graph's own casing. An unknown member is still a 400."""

from __future__ import annotations

import httpx

from tests.sim_graph.conftest import A, B


def test_send_mail_with_capitalised_content_type(graph: httpx.Client) -> None:
    r = graph.post(f"/users/{A}/sendMail", json={"message": {
        "subject": "Meet for lunch?", "body": {"contentType": "Text", "content": "The new cafeteria is open."},
        "toRecipients": [{"emailAddress": {"address": B}}]}, "saveToSentItems": True})
    assert r.status_code == 202, r.text
    [sent] = graph.get(f"/users/{A}/mailFolders/sentitems/messages").json()["value"]
    assert sent["body"]["contentType"] == "text"


def test_enum_members_in_any_case_are_stored_in_csdl_casing(graph: httpx.Client) -> None:
    r = graph.post(f"/users/{A}/messages", json={"subject": "x", "importance": "HIGH",
                                                 "body": {"contentType": "HTML", "content": "<p>x</p>"}})
    assert r.status_code == 201, r.text
    created = r.json()
    assert (created["importance"], created["body"]["contentType"]) == ("high", "html")
    fetched = graph.get(f"/users/{A}/messages/{created['id']}").json()
    assert fetched["importance"] == "high"
    bad = graph.post(f"/users/{A}/messages", json={"subject": "x", "importance": "urgent"})
    assert bad.status_code == 400 and "importance" in bad.json()["error"]["message"]
