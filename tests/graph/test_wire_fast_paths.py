"""The contact fast paths equal msgraph-sdk's model paths: the plain-JSON create body what the
model serialises to, the JSON reader of a Graph contact what parsing it into the model gives."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from msgraph.generated.models.contact import Contact as GraphContact

from shared.domain.records import Contact, RecordType
from shared.graph import mapping
from shared.graph.wire import from_json, to_json

TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
FIELDS = [f.name for f in dataclasses.fields(Contact)]


def model_body(record: Contact, stamp: str | None, categories: tuple[str, ...], web_page: str | None) -> dict:
    return to_json(mapping.record_to_graph(record, stamp=stamp, categories=categories, web_page=web_page,
                                           as_received=True))


def fast_body(record: Contact, stamp: str | None, categories: tuple[str, ...], web_page: str | None) -> dict:
    return mapping.contact_create_json(record, stamp=stamp, categories=categories, web_page=web_page)


@pytest.mark.parametrize(("record", "stamp", "categories", "web_page"), [
    (Contact(), None, (), None),                                              # every field empty
    (Contact(first_name="Ann", last_name="Lee"), "erp-1", ("ERP",), None),    # display name derived
    (Contact(last_name="Lee", display_name="Dr. Lee", email="l@x.test"), "", ("ERP", "VIP"), ""),
    (Contact(first_name="Ann", email="ann@x.test", business_phone="+1 555", mobile_phone="2", company="F",
             job_title="Buyer", web_page="https://own", street="1 Main", city="Oslo", state="O",
             postal_code="0150", country="Norway", notes="multi\nline"), "erp-9", (), "https://erp/x"),
    (Contact(first_name="Zoë", last_name="Ñandú", notes="\"quoted\" \\ back"), "id with spaces", ("É",), None),
])
def test_examples(record: Contact, stamp: str | None, categories: tuple[str, ...], web_page: str | None) -> None:
    assert fast_body(record, stamp, categories, web_page) == model_body(record, stamp, categories, web_page)


@settings(max_examples=150, deadline=None)
@given(values=st.fixed_dictionaries({name: TEXT for name in FIELDS}), stamp=st.none() | TEXT,
       categories=st.lists(TEXT, max_size=3).map(tuple), web_page=st.none() | TEXT)
def test_any_contact(values: dict[str, str], stamp: str | None, categories: tuple[str, ...],
                     web_page: str | None) -> None:
    record = Contact(**values)
    assert fast_body(record, stamp, categories, web_page) == model_body(record, stamp, categories, web_page)


# ------------------------------------------------------------------ reading a contact


def model_item(data: dict) -> object:
    return mapping.item_from_graph(RecordType.CONTACT, from_json(data, GraphContact), "ann@contoso.test")


ANSWER = {"id": "AAMkAD=", "@odata.etag": 'W/"CQAAABYAAAB"', "changeKey": "CQAAABYAAAB",
          "lastModifiedDateTime": "2026-12-02T05:00:00.1234567Z", "createdDateTime": "2026-12-02T05:00:00Z",
          "parentFolderId": "AAMkAF=", "@odata.context": "https://graph/v1.0/$metadata#users('a')/contacts/$entity"}


@pytest.mark.parametrize("change", [
    {},
    {"@odata.etag": None},                                    # the changeKey as a weak ETag
    {"@odata.etag": "", "changeKey": None},                   # no ETag at all
    {"lastModifiedDateTime": "2026-12-02T05:00:00"},          # no offset: read as UTC
    {"lastModifiedDateTime": "2026-12-02T07:00:00+02:00"},
    {"lastModifiedDateTime": None},
    {"singleValueExtendedProperties": [{"id": mapping.STAMP_PROPERTY_ID.replace(" ", "").upper(), "value": "e"}]},
    {"singleValueExtendedProperties": [None, {"id": "String {x} Name Other", "value": "o"}, "bad"]},
    {"emailAddresses": [None, {"address": "b@x.test"}]},
    {"emailAddresses": [{"name": "no address"}], "businessPhones": [7, "2"], "categories": ["A", None, 3]},
    {"businessAddress": None, "givenName": 5, "surname": ["x"]},
])
def test_reading_answers(change: dict) -> None:
    body = mapping.contact_create_json(Contact(first_name="Ann", last_name="Lee", email="ann@x.test",
                                               business_phone="1", city="Oslo"), stamp="erp-1", categories=("ERP",))
    data = {**body, **ANSWER, **change}
    assert mapping.contact_item_from_json(data) == model_item(data)


@pytest.mark.parametrize("change", [
    {"categories": "ERP"}, {"businessPhones": {"a": 1}}, {"emailAddresses": "x"}, {"businessAddress": "Oslo"},
])
def test_shapes_kiota_reads_its_own_way_take_the_model_path(change: dict) -> None:
    assert mapping.contact_item_from_json({**ANSWER, **change}) is None


def test_an_answer_without_id_fails_like_the_model_path() -> None:
    with pytest.raises(ValueError):
        model_item({**ANSWER, "id": None})
    with pytest.raises(ValueError):
        mapping.contact_item_from_json({**ANSWER, "id": None})


JSON = st.recursive(st.none() | st.booleans() | st.integers() | TEXT,
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
                    max_leaves=6)
KEYS = st.sampled_from(["givenName", "surname", "displayName", "companyName", "jobTitle", "mobilePhone",
                        "businessHomePage", "personalNotes", "categories", "businessPhones", "emailAddresses",
                        "businessAddress", "singleValueExtendedProperties", "changeKey", "@odata.etag"])


@settings(max_examples=200, deadline=None)
@given(values=st.fixed_dictionaries({name: TEXT for name in FIELDS}), stamp=st.none() | TEXT,
       noise=st.dictionaries(KEYS, JSON, max_size=4))
def test_any_answer(values: dict[str, str], stamp: str | None, noise: dict) -> None:
    data = {**mapping.contact_create_json(Contact(**values), stamp=stamp), **ANSWER, **noise}
    fast = mapping.contact_item_from_json(data)
    if fast is not None:
        assert fast == model_item(data)
