"""The simulator speaks to the real msgraph-sdk client: its models serialise and parse on the wire."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import httpx
import pytest
from kiota_abstractions.authentication import (
    AccessTokenProvider,
    AllowedHostsValidator,
    BaseBearerTokenAuthenticationProvider,
)
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.models.contact import Contact
from msgraph.generated.models.date_time_time_zone import DateTimeTimeZone
from msgraph.generated.models.email_address import EmailAddress
from msgraph.generated.models.event import Event
from msgraph.generated.models.file_attachment import FileAttachment
from msgraph.generated.models.linked_resource import LinkedResource
from msgraph.generated.models.message import Message
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.outlook_category import OutlookCategory
from msgraph.generated.models.recipient import Recipient
from msgraph.generated.models.single_value_legacy_extended_property import SingleValueLegacyExtendedProperty
from msgraph.generated.models.task_status import TaskStatus
from msgraph.generated.models.todo_task import TodoTask
from msgraph.generated.users.item.contacts.delta.delta_get_response import DeltaGetResponse
from msgraph.generated.users.item.send_mail.send_mail_post_request_body import SendMailPostRequestBody

from devhost.services import Simulator
from tests.sim_graph.conftest import A, B

PROP = "String {66f5a359-4659-4830-9070-00047ec6ac6e} Name ErpId"


class _StaticToken(AccessTokenProvider):
    async def get_authorization_token(self, uri: str, additional_authentication_context: Any = None) -> str:
        return "sdk-token"

    def get_allowed_hosts_validator(self) -> AllowedHostsValidator:
        return AllowedHostsValidator([])


@pytest.fixture
def client(graph: httpx.Client, simulator: Simulator) -> GraphServiceClient:
    adapter = GraphRequestAdapter(BaseBearerTokenAuthenticationProvider(_StaticToken()))
    adapter.base_url = f"{simulator.base_url}/v1.0"
    return GraphServiceClient(request_adapter=adapter)


def _immutable() -> RequestConfiguration[Any]:
    config: RequestConfiguration[Any] = RequestConfiguration()
    config.headers.add("Prefer", 'IdType="ImmutableId"')
    return config


async def test_contact_round_trip_with_extended_property(client: GraphServiceClient) -> None:
    contact = Contact(given_name="Ann", surname="Lee",
                      email_addresses=[EmailAddress(address="ann@fabrikam.test", name="Ann Lee")],
                      business_phones=["+1 555 0100"],
                      single_value_extended_properties=[SingleValueLegacyExtendedProperty(id=PROP, value="C-1")])
    created = await client.users.by_user_id(A).contacts.post(contact, _immutable())
    assert created is not None and created.id and created.change_key
    assert created.display_name == "Ann Lee"
    assert created.email_addresses is not None and created.email_addresses[0].address == "ann@fabrikam.test"
    assert isinstance(created.created_date_time, dt.datetime)
    await client.users.by_user_id(A).contacts.by_contact_id(created.id).patch(Contact(job_title="CFO"))
    fetched = await client.users.by_user_id(A).contacts.by_contact_id(created.id).get()
    assert fetched is not None and fetched.job_title == "CFO" and fetched.change_key != created.change_key


async def test_delta_paging_by_hand(client: GraphServiceClient) -> None:
    for i in range(3):
        await client.users.by_user_id(A).contacts.post(Contact(given_name=f"D{i}"))
    builder = client.users.by_user_id(A).contacts.delta
    config: RequestConfiguration[Any] = RequestConfiguration()
    config.headers.add("Prefer", "odata.maxpagesize=2")
    page: DeltaGetResponse | None = await builder.get(config)
    names: list[str | None] = []
    while page is not None:
        names.extend(c.given_name for c in page.value or [])
        if page.odata_next_link:
            page = await builder.with_url(page.odata_next_link).get(config)
            continue
        assert page.odata_delta_link
        break
    assert sorted(n for n in names if n) == ["D0", "D1", "D2"]


async def test_errors_parse_as_odata_error(client: GraphServiceClient) -> None:
    with pytest.raises(ODataError) as caught:
        await client.users.by_user_id(A).contacts.by_contact_id("missing").get()
    assert caught.value.response_status_code == 404
    assert caught.value.error is not None and caught.value.error.code == "ErrorItemNotFound"


async def test_message_filed_as_sent_and_send_mail(client: GraphServiceClient) -> None:
    flags = SingleValueLegacyExtendedProperty(id="Integer 0x0E07", value="1")
    filed = await client.users.by_user_id(A).mail_folders.by_mail_folder_id("inbox").messages.post(
        Message(subject="From ERP", single_value_extended_properties=[flags]))
    assert filed is not None and filed.is_draft is False
    body = SendMailPostRequestBody(message=Message(subject="Hello", to_recipients=[
        Recipient(email_address=EmailAddress(address=B))]), save_to_sent_items=True)
    await client.users.by_user_id(A).send_mail.post(body)
    sent = await client.users.by_user_id(A).mail_folders.by_mail_folder_id("sentitems").messages.get()
    assert sent is not None and [m.subject for m in sent.value or []] == ["Hello"]
    attachment = FileAttachment(name="a.txt", content_type="text/plain", content_bytes=b"hello")
    posted = await client.users.by_user_id(A).messages.by_message_id(filed.id or "").attachments.post(attachment)
    assert posted is not None and posted.size == 5
    raw = await client.users.by_user_id(A).messages.by_message_id(filed.id or "").attachments.get()
    assert raw is not None and isinstance(raw.value[0], FileAttachment)  # type: ignore[index]
    assert base64.b64encode(raw.value[0].content_bytes or b"")  # type: ignore[index, union-attr]


async def test_event_and_todo_and_categories(client: GraphServiceClient) -> None:
    event = await client.users.by_user_id(A).events.post(Event(
        subject="Visit", transaction_id="tx-1",
        start=DateTimeTimeZone(date_time="2030-05-01T09:00:00", time_zone="UTC"),
        end=DateTimeTimeZone(date_time="2030-05-01T10:00:00", time_zone="UTC")))
    assert event is not None and event.start is not None and event.start.time_zone == "UTC"
    lists = await client.users.by_user_id(A).todo.lists.get()
    assert lists is not None and lists.value
    default = next(x for x in lists.value if x.display_name == "Tasks")
    task = await client.users.by_user_id(A).todo.lists.by_todo_task_list_id(default.id or "").tasks.post(TodoTask(
        title="Follow up", status=TaskStatus.WaitingOnOthers,
        linked_resources=[LinkedResource(external_id="T-1", application_name="exsync", display_name="ERP")]))
    assert task is not None and task.status == TaskStatus.WaitingOnOthers
    category = await client.users.by_user_id(A).outlook.master_categories.post(
        OutlookCategory(display_name="ERP"))
    assert category is not None and category.display_name == "ERP"


async def test_filter_and_expand_on_extended_property(client: GraphServiceClient) -> None:
    from msgraph.generated.users.item.contacts.contacts_request_builder import ContactsRequestBuilder

    await client.users.by_user_id(A).contacts.post(Contact(given_name="Other"))
    await client.users.by_user_id(A).contacts.post(Contact(
        given_name="Stamped", single_value_extended_properties=[SingleValueLegacyExtendedProperty(id=PROP,
                                                                                                  value="C-9")]))
    params = ContactsRequestBuilder.ContactsRequestBuilderGetQueryParameters(
        filter=f"singleValueExtendedProperties/Any(ep: ep/id eq '{PROP}' and ep/value eq 'C-9')",
        expand=[f"singleValueExtendedProperties($filter=id eq '{PROP}')"], select=["givenName"])
    config = RequestConfiguration(query_parameters=params)
    found = await client.users.by_user_id(A).contacts.get(config)
    assert found is not None and [c.given_name for c in found.value or []] == ["Stamped"]
    props = found.value[0].single_value_extended_properties  # type: ignore[index]
    assert props is not None and props[0].value == "C-9"
