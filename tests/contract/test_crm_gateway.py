"""CrmGateway contract: the in-memory twin and the Acumatica adapter (simulator over HTTP) agree."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from devhost.services import Simulator
from shared.domain.records import Attachment
from shared.erp.crm import AcumaticaCrm
from shared.erp.crm_memory import InMemoryCrm
from shared.erp.session import AcumaticaSession
from shared.errors import NotFound
from shared.ports import AttachmentContent, CrmGateway, InboundEmail
from tests.erp.conftest import acumatica_sim  # noqa: F401  (session fixture)
from tests.erp.harness import admin, plain_client, reset_simulator


@pytest.fixture(params=["memory", "acumatica"])
async def crm(request: pytest.FixtureRequest) -> AsyncIterator[CrmGateway]:
    if request.param == "memory":
        yield InMemoryCrm({"ann.employee@contoso.test": "EP00000001"})
        return
    sim: Simulator = request.getfixturevalue("acumatica_sim")
    await reset_simulator(sim.base_url)
    await admin(sim.base_url, "POST", "seed", {"Employee": [{
        "EmployeeID": {"value": "EP00000001"}, "ContactInfo": {"Email": {"value": "ann.employee@contoso.test"}}}]})
    client = plain_client()
    session = AcumaticaSession(sim.base_url, username="admin", password="setup", tenant="Company",
                               http_client=client)
    try:
        yield AcumaticaCrm(session)
    finally:
        await session.aclose()
        await client.aclose()


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
