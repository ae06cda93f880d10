"""The whole simulated tenant: users and their mailboxes, delta tokens, subscriptions, applications."""

from __future__ import annotations

import dataclasses
from typing import Any

from sim.graph import ids
from sim.graph.errors import GraphError
from sim.graph.store import Item, Mailbox

MAIL_FOLDERS = [("inbox", "Inbox"), ("drafts", "Drafts"), ("sentitems", "Sent Items"),
                ("deleteditems", "Deleted Items"), ("archive", "Archive"), ("junkemail", "Junk Email"),
                ("outbox", "Outbox")]
PRESET_CATEGORIES = [("Red category", "preset0"), ("Orange category", "preset1"),
                     ("Yellow category", "preset3"), ("Green category", "preset4"),
                     ("Blue category", "preset7"), ("Purple category", "preset8")]


@dataclasses.dataclass
class DeltaState:
    """What a ``$skiptoken`` / ``$deltatoken`` stands for."""

    mailbox: str                 # UPN
    kind: str
    container: str | None
    since: int                   # changes after this sequence ...
    upto: int                    # ... up to this one (the snapshot)
    offset: int = 0              # position within the snapshot (skiptoken)
    options: dict[str, Any] = dataclasses.field(default_factory=dict)  # $select, window, ...


class Tenant:
    def __init__(self, domain: str = "contoso.test") -> None:
        self.domain = domain
        self.tenant_id = ids.guid()
        self.mailboxes: dict[str, Mailbox] = {}        # lower UPN -> mailbox
        self.by_user_id: dict[str, Mailbox] = {}
        self.deltas: dict[str, DeltaState] = {}
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.applications: dict[str, dict[str, Any]] = {}  # object id -> application
        self.secrets: dict[str, str] = {}                   # keyId -> secretText (admin inspection)
        self.uploads: dict[str, dict[str, Any]] = {}
        self.transactions: dict[tuple[str, str], str] = {}  # (upn, transactionId) -> event iid
        self.scope: set[str] | None = None  # RBAC for Applications: the mailboxes the app may use

    # ------------------------------------------------------------ users
    def add_user(self, upn: str, display_name: str | None = None, *, shared: bool = False) -> Mailbox:
        key = upn.lower()
        if key in self.mailboxes:
            return self.mailboxes[key]
        user: dict[str, Any] = {"id": ids.guid(), "userPrincipalName": upn, "mail": upn,
                "displayName": display_name or upn.split("@")[0].replace(".", " ").title(),
                "givenName": None, "surname": None, "jobTitle": None, "mobilePhone": None,
                "officeLocation": None, "preferredLanguage": "en-US", "businessPhones": [],
                "accountEnabled": not shared, "assignedLicenses": [] if shared else [{"skuId": ids.guid()}]}
        mailbox = Mailbox(user)
        self.mailboxes[key] = mailbox
        self.by_user_id[user["id"].lower()] = mailbox
        provision(mailbox)
        return mailbox

    def find_user(self, ident: str) -> Mailbox | None:
        key = ident.lower()
        return self.mailboxes.get(key) or self.by_user_id.get(key)

    def mailbox(self, ident: str) -> Mailbox:
        found = self.find_user(ident)
        if found is None:
            raise GraphError(404, "ErrorInvalidUser", f"The requested user '{ident}' is invalid.")
        if self.scope is not None and found.upn.lower() not in self.scope:
            raise GraphError(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
        return found

    def reset(self) -> None:
        """Empty everything but the users (mailboxes are re-provisioned)."""
        for mailbox in self.mailboxes.values():
            mailbox.clear()
            provision(mailbox)
        self.deltas.clear()
        self.subscriptions.clear()
        self.uploads.clear()
        self.transactions.clear()
        self.scope = None

    def expire_deltas(self, upn: str | None = None) -> int:
        dead = [t for t, s in self.deltas.items() if upn is None or s.mailbox.lower() == upn.lower()]
        for token in dead:
            del self.deltas[token]
        return len(dead)


def provision(mailbox: Mailbox) -> None:
    """Default folders, calendar, To Do list and the preset categories of a new mailbox."""
    root = mailbox.add("mailFolder", None, {"displayName": "Top of Information Store",
                                            "parentFolderId": None, "isHidden": False})
    mailbox.wellknown["msgfolderroot"] = root.iid
    for name, display in MAIL_FOLDERS:
        folder = mailbox.add("mailFolder", root.iid, {"displayName": display, "isHidden": False,
                                                     "parentFolderId": root.iid})
        mailbox.wellknown[name] = folder.iid
    contacts = mailbox.add("contactFolder", "root", {"displayName": "Contacts", "parentFolderId": None})
    mailbox.wellknown["contacts"] = contacts.iid
    calendar = mailbox.add("calendar", None, {"name": "Calendar", "isDefaultCalendar": True})
    mailbox.wellknown["calendar"] = calendar.iid
    tasks = mailbox.add("todoTaskList", None, {"displayName": "Tasks", "isOwner": True, "isShared": False,
                                               "wellknownListName": "defaultList"})
    mailbox.wellknown["defaultlist"] = tasks.iid
    for display, color in PRESET_CATEGORIES:
        mailbox.add("outlookCategory", None, {"displayName": display, "color": color})


def container_of(mailbox: Mailbox, kind: str, ident: str) -> Item:
    """A container (folder, calendar, list) by id or well-known name, else 404."""
    item = mailbox.get(ident, kind)
    if item is None:
        alias = mailbox.wellknown.get(ident.lower())
        item = mailbox.get(alias, kind) if alias else None
    if item is None:
        raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
    return item
