"""Contact folders, contacts, mail folders, messages, per-folder delta, paging, etags, ImmutableId."""

from __future__ import annotations

import httpx

from tests.sim_graph.conftest import IMMUTABLE, drain, error_code, user


def test_contact_crud_in_default_and_custom_folder(graph: httpx.Client) -> None:
    created = graph.post(user("/contacts"), json={"givenName": "Ann", "surname": "Lee"})
    assert created.status_code == 201
    contact = created.json()
    assert contact["displayName"] == "Ann Lee"
    assert contact["@odata.etag"] == f'W/"{contact["changeKey"]}"'
    folder = graph.post(user("/contactFolders"), json={"displayName": "ERP"}).json()
    assert graph.post(user("/contactFolders"), json={"displayName": "erp"}).status_code == 409
    inner = graph.post(user(f"/contactFolders/{folder['id']}/contacts"), json={"givenName": "Bo"}).json()
    assert inner["parentFolderId"] == folder["id"]
    listed = graph.get(user(f"/contactFolders/{folder['id']}/contacts")).json()["value"]
    assert [c["id"] for c in listed] == [inner["id"]]
    patched = graph.patch(user(f"/contacts/{contact['id']}"), json={"jobTitle": "CFO"}).json()
    assert patched["jobTitle"] == "CFO" and patched["changeKey"] != contact["changeKey"]
    assert graph.delete(user(f"/contacts/{contact['id']}")).status_code == 204
    missing = graph.get(user(f"/contacts/{contact['id']}"))
    assert missing.status_code == 404 and error_code(missing) == "ErrorItemNotFound"
    folders = graph.get(user("/contactFolders")).json()["value"]
    assert [f["displayName"] for f in folders] == ["ERP"]


def test_if_match_mismatch_is_412(graph: httpx.Client) -> None:
    contact = graph.post(user("/contacts"), json={"givenName": "Ann"}).json()
    stale = contact["@odata.etag"]
    graph.patch(user(f"/contacts/{contact['id']}"), json={"jobTitle": "A"}).raise_for_status()
    conflict = graph.patch(user(f"/contacts/{contact['id']}"), json={"jobTitle": "B"},
                           headers={"If-Match": stale})
    assert conflict.status_code == 412
    current = graph.get(user(f"/contacts/{contact['id']}")).json()
    assert current["jobTitle"] == "A"
    fresh = graph.patch(user(f"/contacts/{contact['id']}"), json={"jobTitle": "B"},
                        headers={"If-Match": current["@odata.etag"]})
    assert fresh.status_code == 200
    assert graph.delete(user(f"/contacts/{contact['id']}"), headers={"If-Match": stale}).status_code == 412


def test_contacts_delta_pages_changes_and_removals(graph: httpx.Client) -> None:
    ids = [graph.post(user("/contacts"), json={"givenName": f"C{i}"}).json()["id"] for i in range(5)]
    headers = {"Prefer": "odata.maxpagesize=2"}
    first = graph.get(user("/contacts/delta"), headers=headers).json()
    assert len(first["value"]) == 2 and "$skiptoken=" in first["@odata.nextLink"]
    rows, delta_link = drain(graph, user("/contacts/delta"), headers=headers)
    assert sorted(r["id"] for r in rows) == sorted(ids)
    graph.patch(user(f"/contacts/{ids[0]}"), json={"jobTitle": "X"}).raise_for_status()
    graph.delete(user(f"/contacts/{ids[1]}")).raise_for_status()
    changes, next_link = drain(graph, delta_link)
    by_id = {r["id"]: r for r in changes}
    assert by_id[ids[0]]["jobTitle"] == "X"
    assert by_id[ids[1]]["@removed"] == {"reason": "deleted"}
    assert len(changes) == 2
    replay, _ = drain(graph, delta_link)
    assert {r["id"] for r in replay} == {ids[0], ids[1]}
    quiet, _ = drain(graph, next_link)
    assert quiet == []


def test_delta_select_is_baked_into_the_token(graph: httpx.Client) -> None:
    graph.post(user("/contacts"), json={"givenName": "A", "jobTitle": "T"}).raise_for_status()
    rows, link = drain(graph, user("/contacts/delta"), params={"$select": "givenName"})
    assert set(rows[0]) == {"@odata.etag", "id", "givenName"}
    contact_id = rows[0]["id"]
    graph.patch(user(f"/contacts/{contact_id}"), json={"givenName": "B"}).raise_for_status()
    rows, _ = drain(graph, link)
    assert set(rows[0]) == {"@odata.etag", "id", "givenName"} and rows[0]["givenName"] == "B"


def test_dead_delta_token_is_410(graph: httpx.Client, admin: httpx.Client) -> None:
    _, link = drain(graph, user("/contacts/delta"))
    assert admin.post("/expire-delta", json={}).json()["expired"] >= 1
    response = graph.get(link)
    assert response.status_code == 410
    assert error_code(response) == "syncStateNotFound"
    bogus = graph.get(user("/contacts/delta"), params={"$deltatoken": "nonsense"})
    assert bogus.status_code == 410


def test_well_known_mail_folders_and_child_folders(graph: httpx.Client) -> None:
    names = {f["displayName"] for f in graph.get(user("/mailFolders"), params={"$top": 50}).json()["value"]}
    assert {"Inbox", "Drafts", "Sent Items", "Deleted Items"} <= names
    for alias in ("inbox", "sentitems", "drafts", "deleteditems", "Inbox"):
        assert graph.get(user(f"/mailFolders/{alias}")).status_code == 200
    child = graph.post(user("/mailFolders/inbox/childFolders"), json={"displayName": "ERP"})
    assert child.status_code == 201
    inbox = graph.get(user("/mailFolders/inbox")).json()
    assert child.json()["parentFolderId"] == inbox["id"] and inbox["childFolderCount"] == 1
    path_case = graph.get(user("/MAILFOLDERS/inbox/childfolders"))
    assert path_case.status_code == 200 and len(path_case.json()["value"]) == 1


def test_posted_message_is_a_draft_unless_flags_say_sent(graph: httpx.Client) -> None:
    draft = graph.post(user("/mailFolders/inbox/messages"), json={"subject": "d"}).json()
    assert draft["isDraft"] is True
    assert draft["internetMessageId"].startswith("<") and draft["conversationId"]
    filed = graph.post(user("/mailFolders/inbox/messages"), json={
        "subject": "filed", "body": {"contentType": "html", "content": "<p>Hello <b>there</b></p>"},
        "singleValueExtendedProperties": [{"id": "Integer 0x0E07", "value": "1"}]}).json()
    assert filed["isDraft"] is False and filed["isRead"] is True
    assert filed["bodyPreview"] == "Hello there"
    root_post = graph.post(user("/messages"), json={"subject": "x"}).json()
    drafts = graph.get(user("/mailFolders/drafts")).json()
    assert root_post["parentFolderId"] == drafts["id"]


def test_messages_delta_per_folder_and_move(graph: httpx.Client) -> None:
    message = graph.post(user("/mailFolders/inbox/messages"), json={"subject": "m"}).json()
    _, inbox_link = drain(graph, user("/mailFolders/inbox/messages/delta()"))
    _, archive_link = drain(graph, user("/mailFolders/archive/messages/delta"))
    moved = graph.post(user(f"/messages/{message['id']}/move"), json={"destinationId": "archive"})
    assert moved.status_code == 201
    inbox_changes, _ = drain(graph, inbox_link)
    assert [r.get("@removed") for r in inbox_changes] == [{"reason": "changed"}]
    assert inbox_changes[0]["id"] == message["id"]  # the regular id the client knew, not the new one
    assert moved.json()["id"] != message["id"]
    archive_changes, _ = drain(graph, archive_link)
    assert [r["subject"] for r in archive_changes] == ["m"]


def test_immutable_id_survives_a_move_and_regular_id_does_not(graph: httpx.Client) -> None:
    created = graph.post(user("/mailFolders/inbox/messages"), json={"subject": "keep"},
                         headers=IMMUTABLE).json()
    regular = graph.get(user(f"/messages/{created['id']}")).json()["id"]
    assert regular != created["id"]
    moved = graph.post(user(f"/messages/{created['id']}/move"), json={"destinationId": "deleteditems"},
                       headers=IMMUTABLE).json()
    assert moved["id"] == created["id"]
    assert graph.get(user(f"/messages/{created['id']}"), headers=IMMUTABLE).json()["subject"] == "keep"
    assert graph.get(user(f"/messages/{regular}")).status_code == 404
    new_regular = graph.get(user(f"/messages/{created['id']}")).json()["id"]
    assert new_regular not in (regular, created["id"])


def test_list_paging_top_and_select(graph: httpx.Client) -> None:
    for i in range(13):
        graph.post(user("/contacts"), json={"givenName": f"P{i}"}).raise_for_status()
    page = graph.get(user("/contacts")).json()
    assert len(page["value"]) == 10 and "@odata.nextLink" in page
    rest = graph.get(page["@odata.nextLink"]).json()
    assert len(rest["value"]) == 3 and "@odata.nextLink" not in rest
    top = graph.get(user("/contacts"), params={"$top": 4, "$select": "givenName"}).json()["value"]
    assert len(top) == 4 and set(top[0]) == {"@odata.etag", "id", "givenName"}


def test_filter_on_extended_property_and_expand(graph: httpx.Client) -> None:
    prop = "String {66f5a359-4659-4830-9070-00047ec6ac6e} Name ErpId"
    graph.post(user("/contacts"), json={"givenName": "Plain"}).raise_for_status()
    stamped = graph.post(user("/contacts"), json={
        "givenName": "Stamped", "singleValueExtendedProperties": [{"id": prop, "value": "CRM-7"}]}).json()
    assert "singleValueExtendedProperties" not in stamped
    found = graph.get(user("/contacts"), params={
        "$filter": f"singleValueExtendedProperties/Any(ep: ep/id eq '{prop}' and ep/value eq 'CRM-7')",
        "$expand": f"singleValueExtendedProperties($filter=id eq '{prop}')"}).json()["value"]
    assert [c["id"] for c in found] == [stamped["id"]]
    assert found[0]["singleValueExtendedProperties"] == [{"id": prop, "value": "CRM-7"}]
    none = graph.get(user("/contacts"), params={
        "$filter": f"singleValueExtendedProperties/Any(ep: ep/id eq '{prop}' and ep/value eq 'CRM-8')"})
    assert none.json()["value"] == []
    bad = graph.post(user("/contacts"), json={"singleValueExtendedProperties": [{"id": "bogus", "value": "1"}]})
    assert bad.status_code == 400


def test_select_of_unknown_property_is_400(graph: httpx.Client) -> None:
    graph.post(user("/contacts"), json={"givenName": "S"}).raise_for_status()
    assert graph.get(user("/contacts"), params={"$select": "givenName,shoeSize"}).status_code == 400
    assert graph.get(user("/contacts/delta"), params={"$select": "shoeSize"}).status_code == 400
    assert graph.get(user("/contacts"), params={"$select": "GivenName"}).status_code == 200


def test_delta_is_per_folder(graph: httpx.Client) -> None:
    folder = graph.post(user("/contactFolders"), json={"displayName": "Sync"}).json()
    inside = graph.post(user(f"/contactFolders/{folder['id']}/contacts"), json={"givenName": "In"}).json()
    graph.post(user("/contacts"), json={"givenName": "Default"}).raise_for_status()
    rows, _ = drain(graph, user(f"/contactFolders/{folder['id']}/contacts/delta()"))
    assert [r["id"] for r in rows] == [inside["id"]]
    default_rows, _ = drain(graph, user("/contactFolders/contacts/contacts/delta"))
    assert [r["givenName"] for r in default_rows] == ["Default"]


def test_sent_message_content_is_read_only_and_times_come_from_mapi_props(graph: httpx.Client) -> None:
    filed = graph.post(user("/mailFolders/inbox/messages"), json={
        "subject": "filed", "singleValueExtendedProperties": [
            {"id": "Integer 0x0E07", "value": "1"},
            {"id": "SystemTime 0x0E06", "value": "2024-03-01T10:00:00Z"},
            {"id": "SystemTime 0x0039", "value": "2024-03-01T09:59:00Z"}]}).json()
    assert filed["receivedDateTime"] == "2024-03-01T10:00:00Z"
    assert filed["sentDateTime"] == "2024-03-01T09:59:00Z"
    refused = graph.patch(user(f"/messages/{filed['id']}"), json={"subject": "changed"})
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "ErrorInvalidPropertyUpdateSentMessage"
    allowed = graph.patch(user(f"/messages/{filed['id']}"), json={"categories": ["ERP"], "isRead": False})
    assert allowed.status_code == 200 and allowed.json()["categories"] == ["ERP"]
    draft = graph.post(user("/messages"), json={"subject": "d"}).json()
    assert graph.patch(user(f"/messages/{draft['id']}"), json={"subject": "d2"}).status_code == 200


def test_standard_response_headers(graph: httpx.Client) -> None:
    response = graph.get(user("/contacts"), headers={"client-request-id": "abc",
                                                     "Prefer": 'IdType="ImmutableId", odata.maxpagesize=5'})
    assert response.headers["client-request-id"] == "abc"
    assert response.headers["request-id"]
    assert "ImmutableId" in response.headers["Preference-Applied"]
    assert "odata.maxpagesize=5" in response.headers["Preference-Applied"]


def test_translate_exchange_ids(graph: httpx.Client) -> None:
    immutable = graph.post(user("/messages"), json={"subject": "t"}, headers=IMMUTABLE).json()["id"]
    regular = graph.get(user(f"/messages/{immutable}")).json()["id"]
    answer = graph.post(user("/translateExchangeIds"), json={
        "inputIds": [regular, "nope"], "sourceIdType": "restId", "targetIdType": "restImmutableEntryId"})
    assert answer.status_code == 200
    values = answer.json()["value"]
    assert values[0] == {"sourceId": regular, "targetId": immutable}
    assert values[1]["errorDetails"]["code"] == "ErrorInvalidIdMalformed"
    back = graph.post(user("/translateExchangeIds"), json={
        "inputIds": [immutable], "sourceIdType": "restImmutableEntryId", "targetIdType": "restId"}).json()
    assert back["value"][0]["targetId"] == regular
    bad = graph.post(user("/translateExchangeIds"), json={"inputIds": [regular], "sourceIdType": "x",
                                                         "targetIdType": "restId"})
    assert bad.status_code == 400


def test_orderby_and_unknown_query_options(graph: httpx.Client) -> None:
    for name in ("Carl", "anna", "Bert"):
        graph.post(user("/contacts"), json={"givenName": name}).raise_for_status()
    ascending = graph.get(user("/contacts"), params={"$orderby": "givenName"}).json()["value"]
    assert [c["givenName"] for c in ascending] == ["anna", "Bert", "Carl"]
    descending = graph.get(user("/contacts"), params={"$orderby": "givenName desc"}).json()["value"]
    assert [c["givenName"] for c in descending] == ["Carl", "Bert", "anna"]
    typo = graph.get(user("/contacts"), params={"$selct": "givenName"})
    assert typo.status_code == 400 and "selct" in typo.json()["error"]["message"]
    assert graph.get(user("/contacts"), params={"$orderby": "givenName sideways"}).status_code == 400


def test_body_content_type_preference(graph: httpx.Client) -> None:
    page = "<html><body><p>Hello &amp; welcome</p><p>Line <b>two</b></p></body></html>"
    created = graph.post(user("/messages"), json={"subject": "b", "body": {"contentType": "html", "content": page}})
    ident = created.json()["id"]
    as_text = graph.get(user(f"/messages/{ident}"), headers={"Prefer": 'outlook.body-content-type="text"'})
    assert as_text.json()["body"] == {"contentType": "text", "content": "Hello & welcome\nLine two"}
    assert 'outlook.body-content-type="text"' in as_text.headers["Preference-Applied"]
    as_stored = graph.get(user(f"/messages/{ident}")).json()["body"]
    assert as_stored["contentType"] == "html"
    plain = graph.post(user("/messages"), json={"body": {"contentType": "text", "content": "a < b"}}).json()
    as_html = graph.get(user(f"/messages/{plain['id']}"), headers={"Prefer": 'outlook.body-content-type="html"'})
    assert as_html.json()["body"]["content"] == "<html><body>a &lt; b</body></html>"


def test_message_delta_expand_is_baked_into_the_token(graph: httpx.Client) -> None:
    prop = "String {66f5a359-4659-4830-9070-00047ec6ac6e} Name ErpId"
    graph.post(user("/mailFolders/inbox/messages"), json={
        "subject": "s", "singleValueExtendedProperties": [{"id": prop, "value": "E-1"}]}).raise_for_status()
    expand = f"singleValueExtendedProperties($filter=id eq '{prop}')"
    rows, link = drain(graph, user("/mailFolders/inbox/messages/delta"), params={"$expand": expand})
    assert rows[0]["singleValueExtendedProperties"] == [{"id": prop, "value": "E-1"}]
    graph.patch(user(f"/messages/{rows[0]['id']}"), json={"isRead": False}).raise_for_status()
    changes, _ = drain(graph, link)
    assert changes[0]["singleValueExtendedProperties"] == [{"id": prop, "value": "E-1"}]
