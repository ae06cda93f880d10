"""CrmGateway contract: the in-memory twin and the Acumatica adapter (simulator over HTTP) agree,
for the system mailboxes' methods and the Outlook add-in's."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

import pytest

from devhost.services import Simulator
from shared.domain.records import Attachment, EmailMessage
from shared.erp.crm import AcumaticaCrm
from shared.erp.crm_memory import InMemoryCrm
from shared.erp.session import AcumaticaSession
from shared.errors import NotFound
from shared.ports import AttachmentContent, CrmGateway, InboundEmail
from tests.erp.conftest import acumatica_sim  # noqa: F401  (session fixture)
from tests.erp.harness import admin, plain_client, reset_simulator


@dataclasses.dataclass
class World:
    """A gateway and how to put a business account in its ERP (no port method creates one)."""

    crm: CrmGateway
    add_account: Callable[[str, str], Awaitable[None]]


@pytest.fixture(params=["memory", "acumatica"])
async def world(request: pytest.FixtureRequest) -> AsyncIterator[World]:
    if request.param == "memory":
        twin = InMemoryCrm()
        twin.add("employee", number="EP00000001", email="ann.employee@contoso.test", title="Ann Employee")

        async def add_to_twin(number: str, name: str) -> None:
            twin.add("account", number=number, title=name)

        yield World(twin, add_to_twin)
        return
    sim: Simulator = request.getfixturevalue("acumatica_sim")
    await reset_simulator(sim.base_url)
    await admin(sim.base_url, "POST", "seed", {"Employee": [{
        "EmployeeID": {"value": "EP00000001"}, "EmployeeName": {"value": "Ann Employee"},
        "ContactInfo": {"Email": {"value": "ann.employee@contoso.test"}}}]})

    async def add_to_simulator(number: str, name: str) -> None:
        await admin(sim.base_url, "POST", "seed", {"BusinessAccount": [
            {"BusinessAccountID": {"value": number}, "Name": {"value": name}}]})

    client = plain_client()
    session = AcumaticaSession(sim.base_url, username="admin", password="setup", tenant="Company",
                               http_client=client)
    try:
        yield World(AcumaticaCrm(session), add_to_simulator)
    finally:
        await session.aclose()
        await client.aclose()


@pytest.fixture
def crm(world: World) -> CrmGateway:
    return world.crm


def inbound(origin: str, related: tuple[str, str] | None, **kw: object) -> InboundEmail:
    return InboundEmail(subject="Printer broken", body="It jams.", from_address="carol@customer.test",
                        to=("support@contoso.test",), cc=(), sent_at=datetime(2026, 12, 1, 9, tzinfo=UTC),
                        internet_message_id="<m1@customer.test>", origin=origin, method="new", related=related,
                        **kw)  # type: ignore[arg-type]


async def test_contacts_and_employees(crm: CrmGateway) -> None:
    assert await crm.find_contact("carol@customer.test") is None
    made = await crm.create_contact("Carol@Customer.test", "Carol King", origin="o-contact", owner=None)
    found = await crm.find_contact("carol@customer.test")
    assert found is not None and found.id == made.id and found.kind == "contact" and found.number
    assert (await crm.find_by_origin("contact", "o-contact")).id == made.id  # type: ignore[union-attr]
    assert await crm.find_employee("ANN.employee@contoso.test") == "EP00000001"
    assert await crm.find_employee("carol@customer.test") is None


async def test_cases_are_numbered_found_by_number_and_origin_and_reopened(crm: CrmGateway) -> None:
    contact = await crm.create_contact("carol@customer.test", "Carol King", origin="o-c", owner=None)
    case = await crm.create_case(subject="Printer broken", description="It jams.", case_class="SUPPORT",
                                 contact=contact, owner=None, workgroup=None, origin="o-case")
    assert case.kind == "case" and case.number == "000001" and not case.closed
    assert (await crm.find_case("000001")).id == case.id  # type: ignore[union-attr]
    assert await crm.find_case("999999") is None
    assert (await crm.find_by_origin("case", "o-case")).id == case.id  # type: ignore[union-attr]
    assert await crm.find_by_origin("case", "o-other") is None
    assert (await crm.get_record("case", case.id)).number == "000001"  # type: ignore[union-attr]
    await crm.reopen_case(case.id)
    assert not (await crm.get_record("case", case.id)).closed  # type: ignore[union-attr]
    with pytest.raises(NotFound):
        await crm.reopen_case("6f1c8f4e-0000-4000-8000-000000000000")


async def test_leads_and_emails(crm: CrmGateway) -> None:
    lead = await crm.create_lead(email="bob@prospect.test", name="Bob Stone", lead_class=None, owner=None,
                                 workgroup=None, origin="o-lead")
    assert lead.kind == "lead" and lead.number
    assert (await crm.find_by_origin("lead", "o-lead")).id == lead.id  # type: ignore[union-attr]
    file = AttachmentContent(Attachment(name="photo.png", size=3, content_type="image/png", content_hash="x"),
                             b"png")
    email_id = await crm.create_email(inbound("o-mail", ("lead", lead.id), files=(file,)))
    found = await crm.find_by_origin("email", "o-mail")
    assert found is not None and found.id == email_id
    unassigned = await crm.create_email(inbound("o-mail-2", None))
    assert unassigned != email_id


# ---------------------------------------------------------------- the Outlook add-in


def mail(subject: str) -> EmailMessage:
    return EmailMessage(subject=subject, body="Hello", from_address="ada@fabrikam.test", to=("ann@contoso.test",),
                        sent_at=datetime(2026, 12, 1, 9, tzinfo=UTC), internet_message_id=f"<{subject}@fabrikam>")


async def test_records_around_addresses(world: World) -> None:
    crm = world.crm
    await world.add_account("FABRIKAM", "Fabrikam Inc")
    ada, _ = await crm.create_record("contact", {"FirstName": "Ada", "LastName": "Byron", "Email": "ada@fabrikam.test",
                                                 "BusinessAccount": "FABRIKAM"}, owner=None, origin="o-ada")
    case, _ = await crm.create_record("case", {"Subject": "Printer jams", "ClassID": "SUPPORT",
                                               "ContactID": int(ada.number)}, owner=None, origin="o-case")
    await crm.create_record("case", {"Subject": "Old issue", "ClassID": "SUPPORT", "ContactID": int(ada.number),
                                     "Status": "Closed"}, owner=None, origin="o-closed")
    await crm.create_record("opportunity", {"Subject": "More printers", "BusinessAccount": "FABRIKAM"},
                            owner=None, origin="o-opp")
    await crm.create_record("lead", {"FirstName": "Leo", "LastName": "North", "Email": "leo@northwind.test"},
                            owner=None, origin="o-lead")
    found = await crm.records_for(["Ada@Fabrikam.test", "leo@northwind.test", "ann.employee@contoso.test",
                                   "nobody@else.test", " "])
    assert {(r.kind, r.title) for r in found} == {
        ("contact", "Ada Byron"), ("lead", "Leo North"), ("employee", "Ann Employee"), ("account", "Fabrikam Inc"),
        ("case", "Printer jams"), ("opportunity", "More printers")}
    contact = next(r for r in found if r.kind == "contact")
    assert (contact.id, contact.email, contact.account) == (ada.id, "ada@fabrikam.test", "FABRIKAM")
    assert next(r for r in found if r.kind == "case").id == case.id
    assert await crm.records_for([]) == []


async def test_get_record_of_every_kind_and_a_missing_one(world: World) -> None:
    crm = world.crm
    lead, created = await crm.create_record("lead", {"LastName": "North", "Email": "leo@northwind.test"},
                                            owner="EP00000001", origin="o-lead")
    again, created_again = await crm.create_record("lead", {"LastName": "North", "Email": "leo@northwind.test"},
                                                   owner="EP00000001", origin="o-lead")
    assert (created, created_again, again.id) == (True, False, lead.id)
    got = await crm.get_record("lead", lead.id)
    assert got is not None and (got.kind, got.number, got.email) == ("lead", lead.number, "leo@northwind.test")
    assert await crm.get_record("case", "6f1c8f4e-0000-4000-8000-000000000000") is None


async def test_filing_a_mail_is_idempotent_and_its_target_is_found(world: World) -> None:
    crm = world.crm
    case = await crm.create_case(subject="Printer broken", description="", case_class="SUPPORT", contact=None,
                                 owner=None, workgroup=None, origin="o-case")
    first, created = await crm.file_email(mail("m1"), ("case", case.id), owner="EP00000001", origin="file-1")
    second, created_again = await crm.file_email(mail("m1"), ("case", case.id), owner="EP00000001",
                                                 origin="file-1")
    assert (created, created_again, second) == (True, False, first)
    other, _ = await crm.file_email(mail("m2"), ("case", case.id), owner=None, origin="file-10")  # origin prefix
    assert other != first
    assert await crm.email_targets([first, other]) == [("case", case.id), ("case", case.id)]
    assert await crm.email_targets([]) == []
