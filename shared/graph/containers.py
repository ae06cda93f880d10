"""Provisioning in a mailbox: folders, To Do lists, calendars ("containers") and master categories.

Owns how a container is found by name (case-insensitive, like Outlook) or created, the default
container of each record type (Inbox, the default contact folder, the default calendar, the
default To Do list), the well-known mail folders (``sentitems`` ...), and the per-process cache of
container ids. Creating what another worker created a moment ago is tolerated.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from kiota_abstractions.method import Method
from msgraph.generated.models.calendar import Calendar
from msgraph.generated.models.calendar_collection_response import CalendarCollectionResponse
from msgraph.generated.models.category_color import CategoryColor
from msgraph.generated.models.contact_collection_response import ContactCollectionResponse
from msgraph.generated.models.contact_folder import ContactFolder
from msgraph.generated.models.contact_folder_collection_response import ContactFolderCollectionResponse
from msgraph.generated.models.mail_folder import MailFolder
from msgraph.generated.models.mail_folder_collection_response import MailFolderCollectionResponse
from msgraph.generated.models.outlook_category import OutlookCategory
from msgraph.generated.models.outlook_category_collection_response import OutlookCategoryCollectionResponse
from msgraph.generated.models.todo_task_list import TodoTaskList
from msgraph.generated.models.todo_task_list_collection_response import TodoTaskListCollectionResponse
from msgraph.generated.models.wellknown_list_name import WellknownListName

from shared.domain.records import RecordType
from shared.errors import AlreadyExists, ExsyncError, NotFound, RemoteError, ValidationFailed
from shared.graph.client import GraphHttp
from shared.graph.wire import RESOURCES, seg

logger = logging.getLogger(__name__)

WELL_KNOWN_MAIL_FOLDERS = frozenset({"inbox", "sentitems", "drafts", "deleteditems", "archive", "outbox"})


@dataclasses.dataclass(frozen=True, slots=True)
class _Container:
    """How containers of one record type are listed and created."""

    collection: Any          # the msgraph CollectionResponse class
    model: Any               # the container model class
    name_field: str          # displayName, or name for calendars


_CONTAINERS: dict[RecordType, _Container] = {
    RecordType.CONTACT: _Container(ContactFolderCollectionResponse, ContactFolder, "display_name"),
    RecordType.EMAIL: _Container(MailFolderCollectionResponse, MailFolder, "display_name"),
    RecordType.EVENT: _Container(CalendarCollectionResponse, Calendar, "name"),
    RecordType.TASK: _Container(TodoTaskListCollectionResponse, TodoTaskList, "display_name"),
}



class Provisioner:
    """Finds or creates containers and master categories (ids cached per process)."""

    def __init__(self, http: GraphHttp) -> None:
        self.http = http
        self._containers: dict[tuple[str, RecordType, str], str] = {}

    async def ensure_container(self, mailbox: str, record_type: RecordType, name: str | None) -> str:
        key = (mailbox.lower(), record_type, (name or "").lower())
        if key in self._containers:
            return self._containers[key]
        if name is None:
            container_id = await self._default_container(mailbox, record_type)
        elif record_type is RecordType.EMAIL and name.lower() in WELL_KNOWN_MAIL_FOLDERS:
            container_id = await self._well_known_folder(mailbox, name.lower())
        else:
            container_id = await self._find_container(mailbox, record_type, name) \
                or await self._create_container(mailbox, record_type, name)
        self._containers[key] = container_id
        return container_id

    async def _default_container(self, mailbox: str, record_type: RecordType) -> str:
        user = f"/users/{seg(mailbox)}"
        if record_type is RecordType.EMAIL:
            return await self._well_known_folder(mailbox, "inbox")
        if record_type is RecordType.EVENT:
            calendar = await self.http.send(self.http.request(Method.GET, f"{user}/calendar", mailbox),
                                            Calendar)
            return required_id(calendar, "default calendar")
        if record_type is RecordType.CONTACT:
            return await self._default_contact_folder(mailbox)
        async for entry in self.http.pages(mailbox, f"{user}/todo/lists", TodoTaskListCollectionResponse):
            if entry.wellknown_list_name == WellknownListName.DefaultList:
                return required_id(entry, "default To Do list")
        raise NotFound(f"mailbox {mailbox} has no default To Do list")

    async def _default_contact_folder(self, mailbox: str) -> str:
        """The default Contacts folder: by its well-known name, else as the parent of what it holds."""
        user = f"/users/{seg(mailbox)}"
        try:
            folder = await self.http.send(
                self.http.request(Method.GET, f"{user}/contactFolders/contacts", mailbox), ContactFolder)
            return required_id(folder, "default contact folder")
        except (NotFound, RemoteError) as exc:
            if getattr(exc, "status", 404) not in (400, 404):
                raise
            logger.info("no well-known contacts folder (%s); asking its children", type(exc).__name__)
        for path, collection in ((f"{user}/contactFolders", ContactFolderCollectionResponse),
                                 (f"{user}/contacts", ContactCollectionResponse)):
            info = self.http.request(Method.GET, path, mailbox, query={"$select": "parentFolderId", "$top": "1"})
            page = await self.http.send(info, collection)
            for entry in (page.value if page is not None else None) or ():
                if entry.parent_folder_id:
                    return str(entry.parent_folder_id)
        raise NotFound(f"cannot tell the default contact folder of {mailbox}: it holds no folders or contacts; "
                       "name a contact folder in the policy (contacts.folder)")

    async def _well_known_folder(self, mailbox: str, name: str) -> str:
        folder = await self.http.send(
            self.http.request(Method.GET, f"/users/{seg(mailbox)}/mailFolders/{name}", mailbox),
            MailFolder)
        return required_id(folder, f"mail folder {name}")

    async def _find_container(self, mailbox: str, record_type: RecordType, name: str) -> str | None:
        spec = _CONTAINERS[record_type]
        wanted = name.strip().lower()
        async for entry in self.http.pages(mailbox, RESOURCES[record_type].containers(mailbox), spec.collection):
            if (getattr(entry, spec.name_field) or "").strip().lower() == wanted:
                return required_id(entry, name)
        return None

    async def _create_container(self, mailbox: str, record_type: RecordType, name: str) -> str:
        spec = _CONTAINERS[record_type]
        body = spec.model(**{spec.name_field: name})
        info = self.http.request(Method.POST, RESOURCES[record_type].containers(mailbox), mailbox, body=body)
        try:
            created = await self.http.send(info, spec.model)
        except ExsyncError as exc:  # created concurrently by another worker: use that one
            found = await self._find_container(mailbox, record_type, name)
            if found is None:
                raise
            logger.info("container %s existed after %s", name, type(exc).__name__)
            return found
        logger.info("created %s container for %s", record_type.value, mailbox)
        return required_id(created, name)

    async def ensure_category(self, mailbox: str, name: str, color: str) -> None:
        path = f"/users/{seg(mailbox)}/outlook/masterCategories"
        async for entry in self.http.pages(mailbox, path, OutlookCategoryCollectionResponse):
            if (entry.display_name or "").lower() == name.lower():
                return
        try:
            category_color = CategoryColor(color.strip().lower())
        except ValueError as exc:
            raise ValidationFailed({"color": f"unknown category colour {color!r}; use none or preset0..preset24"}) \
                from exc
        body = OutlookCategory(display_name=name, color=category_color)
        try:
            await self.http.send(self.http.request(Method.POST, path, mailbox, body=body),
                                 OutlookCategory)
        except AlreadyExists:
            logger.info("master category existed already (created concurrently)")



def required_id(model: Any, what: str) -> str:
    """The id of a Graph answer, or RemoteError when it has none."""
    item_id = getattr(model, "id", None)
    if not item_id:
        raise RemoteError(f"Graph returned no id for {what}")
    return str(item_id)
