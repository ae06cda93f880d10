"""Case, Lead and Opportunity in the Acumatica simulator: strict fields, rules, Activities, Email actions."""

from __future__ import annotations

from typing import Any

import httpx

from tests.sim_acumatica.conftest import E


def w(**values: Any) -> dict[str, Any]:
    return {k: {"value": v} for k, v in values.items()}


async def _put(api: httpx.AsyncClient, entity: str, body: dict[str, Any], **params: str) -> httpx.Response:
    return await api.put(f"{E}/{entity}", json=body, params=params)


async def test_case_is_numbered_validated_and_closed(api: httpx.AsyncClient) -> None:
    contact = (await _put(api, "Contact", w(FirstName="Ann", LastName="Lee", Email="ann@customer.test"))).json()
    missing = await _put(api, "Case", w(Subject="Printer"))
    assert missing.status_code == 422 and "ClassID" in missing.json()["error"]
    bad_contact = await _put(api, "Case", w(Subject="Printer", ClassID="SUPPORT", ContactID=99999))
    assert bad_contact.status_code == 422 and "ContactID" in bad_contact.json()["ContactID"]["error"]
    made = await _put(api, "Case", w(Subject="Printer", ClassID="SUPPORT", ContactID=contact["ContactID"]["value"]))
    assert made.status_code == 200, made.text
    case = made.json()
    assert case["CaseID"]["value"] == "000001" and case["Status"]["value"] == "New"
    second = (await _put(api, "Case", w(Subject="Scanner", ClassID="SUPPORT"))).json()
    assert second["CaseID"]["value"] == "000002"
    closed = (await _put(api, "Case", {"id": case["id"], **w(Status="Closed")})).json()
    assert closed["ClosingDate"]["value"] and closed["Reason"]["value"] == "Resolved"
    reopened = (await _put(api, "Case", {"id": case["id"], **w(Status="Open")})).json()
    assert reopened["Status"]["value"] == "Open" and reopened["ClosingDate"]["value"] is None
    wrong = await _put(api, "Case", {"id": case["id"], **w(Status="Solved")})
    assert wrong.status_code == 422
    unknown = await _put(api, "Case", {"Bogus": {"value": 1}})
    assert unknown.status_code == 400 and "Bogus" in unknown.json()["exceptionMessage"]
    by_key = await api.get(f"{E}/Case/000001")
    assert by_key.status_code == 200 and by_key.json()["id"] == case["id"]


async def test_case_activities_are_its_linked_emails(api: httpx.AsyncClient) -> None:
    case = (await _put(api, "Case", w(Subject="Printer", ClassID="SUPPORT"))).json()
    email = await _put(api, "Email", w(Subject="Re: Printer", RelatedEntityType="PX.Objects.CR.CRCase",
                                       RelatedEntityNoteID=case["id"], Incoming=True))
    assert email.status_code == 200, email.text
    plain = (await api.get(f"{E}/Case/{case['id']}")).json()
    assert "Activities" not in plain
    expanded = (await api.get(f"{E}/Case/{case['id']}", params={"$expand": "Activities"})).json()
    assert [a["RefNoteID"]["value"] for a in expanded["Activities"]] == [case["id"]]
    assert expanded["Activities"][0]["Type"]["value"] == "Email"
    dangling = await _put(api, "Email", w(Subject="x", RelatedEntityType="PX.Objects.CR.CRCase",
                                          RelatedEntityNoteID="6f1c8f4e-0000-0000-0000-000000000000"))
    assert dangling.status_code == 422


async def test_create_case_and_lead_from_email(api: httpx.AsyncClient) -> None:
    await _put(api, "Contact", w(FirstName="Ann", LastName="Lee", Email="ann@customer.test"))
    known = (await _put(api, "Email", w(Subject="Broken", Body="It broke", From="Ann Lee <ann@customer.test>",
                                        Incoming=True))).json()
    done = await api.post(f"{E}/Email/CreateCaseFromEmail", json={"entity": {"id": known["id"]}})
    assert done.status_code == 204, done.text
    linked = (await api.get(f"{E}/Email/{known['id']}")).json()
    assert linked["RelatedEntityType"]["value"] == "PX.Objects.CR.CRCase"
    case = (await api.get(f"{E}/Case/{linked['RelatedEntityNoteID']['value']}")).json()
    assert case["Subject"]["value"] == "Broken" and case["ContactID"]["value"] is not None
    again = await api.post(f"{E}/Email/CreateCaseFromEmail", json={"entity": {"id": known["id"]}})
    assert again.status_code == 422

    stranger = (await _put(api, "Email", w(Subject="Price?", From="Bob Stone <bob@prospect.test>",
                                           Incoming=True))).json()
    done = await api.post(f"{E}/Email/CreateLeadFromEmail", json={"entity": {"id": stranger["id"]}})
    assert done.status_code == 204, done.text
    leads = (await api.get(f"{E}/Lead")).json()
    assert [(lead["Email"]["value"], lead["LastName"]["value"]) for lead in leads] == [("bob@prospect.test", "Stone")]
    bad = await api.post(f"{E}/Email/ProcessEverything", json={"entity": {"id": stranger["id"]}})
    assert bad.status_code == 400
    opp = await _put(api, "Opportunity", w(Subject="Deal", Status="Won"))
    assert opp.status_code == 200 and opp.json()["OpportunityID"]["value"] == "OP000001"


# Acumatica's CRTargetEntityType names (PX.Objects.CR), as exsync's record kinds use them; the
# plausible wrong guesses the simulator must refuse as Acumatica would (docs/outlook-addin.md).
WRONG_TYPES = ("PX.Objects.CR.Case", "PX.Objects.CR.Lead", "PX.Objects.CR.Opportunity",
               "PX.Objects.CR.BusinessAccount", "Case", "px.objects.cr.crcase")


async def test_related_entity_types_are_the_verified_names_and_nothing_else(api: httpx.AsyncClient) -> None:
    from shared.erp.crm_kinds import RELATED_TYPES
    from sim.acumatica.store import RELATED_TYPES as SIMULATED

    assert set(SIMULATED) == set(RELATED_TYPES.values())
    contact = (await _put(api, "Contact", w(FirstName="Ann", LastName="Lee", Email="ann@customer.test"))).json()
    records = {
        "contact": contact,
        "lead": (await _put(api, "Lead", w(LastName="Stone", Email="bob@prospect.test"))).json(),
        "case": (await _put(api, "Case", w(Subject="Printer", ClassID="SUPPORT"))).json(),
        "opportunity": (await _put(api, "Opportunity", w(Subject="More printers"))).json(),
        "account": (await _put(api, "BusinessAccount", w(BusinessAccountID="FAB", Name="Fabrikam"))).json(),
    }
    for kind, related_type in RELATED_TYPES.items():
        linked = await _put(api, "Email", w(Subject=f"to {kind}", RelatedEntityType=related_type,
                                            RelatedEntityNoteID=records[kind]["id"]))
        assert linked.status_code == 200, (kind, linked.text)
        assert linked.json()["RelatedEntityType"]["value"] == related_type
    for wrong in WRONG_TYPES:
        refused = await _put(api, "Email", w(Subject="x", RelatedEntityType=wrong, RelatedEntityNoteID=contact["id"]))
        assert refused.status_code == 422 and "RelatedEntityType" in refused.text, (wrong, refused.text)
    mismatched = await _put(api, "Email", w(Subject="x", RelatedEntityType=RELATED_TYPES["case"],
                                            RelatedEntityNoteID=contact["id"]))  # a contact's NoteID as a case
    assert mismatched.status_code == 422 and "RelatedEntityNoteID" in mismatched.text
