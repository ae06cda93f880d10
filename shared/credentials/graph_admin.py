"""The few Graph calls the credential features make, on httpx: app registrations and mail.

- ``/applications``: read ``passwordCredentials``/``keyCredentials`` end dates (expiry check),
  ``addPassword``/``removePassword`` (rotation);
- ``/users/{upn}/sendMail``: expiry alerts to the admins;
- reads of users, master categories and folders for the configuration review.

:class:`GraphAdminClient` is the adapter (any Graph base URL, so the simulator works);
:class:`InMemoryGraphAdmin` is its twin; both pass ``tests/credentials/test_graph_admin_contract.py``.
HTTP failures become :mod:`shared.errors` classes; a 403 is a ``RemoteError`` with ``status=403``
and Graph's error ``code`` so callers can tell "no permission / out of RBAC scope" apart.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import quote

import httpx

from shared.credentials.providers import GRAPH_SCOPE
from shared.errors import AuthenticationFailed, NotFound, RemoteError, Throttled

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, slots=True)
class AppCredential:
    """A ``passwordCredential`` or ``keyCredential`` of the app registration (no secret text)."""

    key_id: str
    display_name: str
    end: datetime | None
    kind: str = "password"  # or "certificate"
    hint: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class AppRegistration:
    object_id: str
    app_id: str
    display_name: str
    credentials: tuple[AppCredential, ...] = ()

    def passwords(self) -> list[AppCredential]:
        return [c for c in self.credentials if c.kind == "password"]


@dataclasses.dataclass(frozen=True, slots=True)
class NewPassword:
    """The result of ``addPassword``: ``secret_text`` exists only here (Graph returns it once)."""

    key_id: str
    secret_text: str = dataclasses.field(repr=False)
    end: datetime | None = None


class FolderKind:
    MAIL = "mailFolders"
    CONTACTS = "contactFolders"
    TODO = "todo/lists"
    CALENDARS = "calendars"


class GraphAdmin(Protocol):
    """Graph operations of the credential features."""

    async def get_application(self, app_id: str) -> AppRegistration:
        """The app registration with this application (client) id; raises NotFound."""
        ...

    async def add_password(self, object_id: str, display_name: str, end: datetime) -> NewPassword: ...

    async def remove_password(self, object_id: str, key_id: str) -> None: ...

    async def send_mail(self, sender: str, to: Sequence[str], subject: str, body: str) -> None: ...

    async def get_user(self, upn: str) -> dict[str, Any]:
        """The user (id, userPrincipalName, mail); raises NotFound, RemoteError(403)."""
        ...

    async def list_categories(self, upn: str) -> list[str]: ...

    async def list_folder_names(self, upn: str, kind: str) -> list[str]:
        """Display names of the mailbox's top-level folders / lists / calendars of ``kind``."""
        ...

    async def aclose(self) -> None: ...


def parse_graph_time(value: Any) -> datetime | None:
    """A Graph ``DateTimeOffset`` string as an aware datetime (None when absent)."""
    if not value:
        return None
    text = str(value).replace("Z", "+00:00")
    if "." in text:  # Graph sends up to 7 fractional digits; Python takes 6
        head, _, rest = text.partition(".")
        digits = "".join(ch for ch in rest if ch.isdigit())
        zone = rest[len(digits):]
        text = f"{head}.{digits[:6]}{zone}"
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def graph_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _app_from_json(data: dict[str, Any]) -> AppRegistration:
    creds = [AppCredential(str(p.get("keyId")), str(p.get("displayName") or ""),
                           parse_graph_time(p.get("endDateTime")), "password", p.get("hint"))
             for p in data.get("passwordCredentials") or []]
    creds += [AppCredential(str(k.get("keyId")), str(k.get("displayName") or ""),
                            parse_graph_time(k.get("endDateTime")), "certificate")
              for k in data.get("keyCredentials") or []]
    return AppRegistration(str(data.get("id")), str(data.get("appId")), str(data.get("displayName") or ""),
                           tuple(creds))


def _error(response: httpx.Response, what: str) -> Exception:
    code = None
    message = ""
    try:
        err = response.json().get("error") or {}
        code, message = err.get("code"), str(err.get("message") or "")
    except ValueError:
        pass
    status = response.status_code
    text = f"{what}: HTTP {status} {code or ''} {message[:200]}".strip()
    if status == 401:
        return AuthenticationFailed(text, status=status, code=code)
    if status == 404:
        return NotFound(text)
    if status == 429:
        retry = response.headers.get("Retry-After")
        return Throttled(text, retry_after=float(retry) if retry and retry.replace(".", "").isdigit()
                         else None)
    return RemoteError(text, status=status, code=code)


class GraphAdminClient:
    """:class:`GraphAdmin` over httpx with a token from an azure-core async credential."""

    def __init__(self, base_url: str, credential: Any, *, transport: httpx.AsyncBaseTransport | None = None,
                 timeout: float = 30.0) -> None:
        self._base = base_url.rstrip("/")
        self._credential = credential
        self._http = httpx.AsyncClient(transport=transport, timeout=timeout)

    async def _request(self, method: str, path: str, what: str, *, json: Any = None,
                       params: dict[str, str] | None = None) -> httpx.Response:
        token = await self._credential.get_token(GRAPH_SCOPE)
        url = path if path.startswith("http") else f"{self._base}{path}"
        try:
            response = await self._http.request(method, url, json=json, params=params,
                                                headers={"Authorization": f"Bearer {token.token}"})
        except httpx.HTTPError as exc:
            raise RemoteError(f"{what}: {exc.__class__.__name__}") from exc
        if response.status_code >= 400:
            raise _error(response, what)
        return response

    async def _list(self, path: str, what: str, params: dict[str, str] | None = None) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        url: str | None = path
        while url:
            page = (await self._request("GET", url, what, params=params if url == path else None)).json()
            items.extend(page.get("value") or [])
            url = page.get("@odata.nextLink")
        return items

    async def get_application(self, app_id: str) -> AppRegistration:
        what = f"reading app registration {app_id}"
        found = await self._list("/applications", what, {"$filter": f"appId eq '{app_id}'"})
        if not found:
            raise NotFound(f"{what}: no application with this appId (check client_id and tenant_id)")
        return _app_from_json(found[0])

    async def add_password(self, object_id: str, display_name: str, end: datetime) -> NewPassword:
        body = {"passwordCredential": {"displayName": display_name, "endDateTime": graph_time(end)}}
        data = (await self._request("POST", f"/applications/{object_id}/addPassword",
                                    "adding a client secret", json=body)).json()
        logger.info("added client secret %s to application %s", data.get("keyId"), object_id)
        return NewPassword(str(data["keyId"]), str(data["secretText"]),
                           parse_graph_time(data.get("endDateTime")))

    async def remove_password(self, object_id: str, key_id: str) -> None:
        await self._request("POST", f"/applications/{object_id}/removePassword",
                            "removing a client secret", json={"keyId": key_id})
        logger.info("removed client secret %s from application %s", key_id, object_id)

    async def send_mail(self, sender: str, to: Sequence[str], subject: str, body: str) -> None:
        message = {"subject": subject, "body": {"contentType": "text", "content": body},
                   "toRecipients": [{"emailAddress": {"address": a}} for a in to]}
        await self._request("POST", f"/users/{quote(sender)}/sendMail", f"sending mail as {sender}",
                            json={"message": message, "saveToSentItems": False})

    async def get_user(self, upn: str) -> dict[str, Any]:
        data: dict[str, Any] = (await self._request("GET", f"/users/{quote(upn)}",
                                                    f"reading mailbox {upn}")).json()
        return data

    async def list_categories(self, upn: str) -> list[str]:
        items = await self._list(f"/users/{quote(upn)}/outlook/masterCategories",
                                 f"reading categories of {upn}")
        return [str(i.get("displayName")) for i in items]

    async def list_folder_names(self, upn: str, kind: str) -> list[str]:
        items = await self._list(f"/users/{quote(upn)}/{kind}", f"reading {kind} of {upn}")
        return [str(i.get("displayName") or i.get("name") or "") for i in items]

    async def aclose(self) -> None:
        await self._http.aclose()


@dataclasses.dataclass
class _Mailbox:
    categories: list[str] = dataclasses.field(default_factory=list)
    folders: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    denied: bool = False


class InMemoryGraphAdmin:
    """The twin of :class:`GraphAdminClient`; it also plays the tenant's secret check for tests."""

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self.apps: dict[str, AppRegistration] = {}
        self.secret_texts: dict[str, str] = {}  # keyId -> secretText
        self.mailboxes: dict[str, _Mailbox] = {}
        self.sent: list[dict[str, Any]] = []
        self.fail_next: dict[str, Exception] = {}
        self._clock = clock or (lambda: datetime.now(UTC))

    def _maybe_fail(self, operation: str) -> None:
        error = self.fail_next.pop(operation, None)
        if error is not None:
            raise error

    def add_app(self, app_id: str, display_name: str = "exsync") -> AppRegistration:
        app = AppRegistration(str(uuid.uuid4()), app_id, display_name)
        self.apps[app.object_id] = app
        return app

    def add_mailbox(self, upn: str, *, categories: Sequence[str] = (),
                    folders: dict[str, list[str]] | None = None, denied: bool = False) -> None:
        self.mailboxes[upn.lower()] = _Mailbox(list(categories), dict(folders or {}), denied)

    def check_secret(self, app_id: str, secret: str) -> str:
        """'ok', 'expired' or 'invalid' for a client secret of ``app_id`` (the token endpoint's view)."""
        app = next((a for a in self.apps.values() if a.app_id == app_id), None)
        if app is None:
            return "invalid"
        for cred in app.passwords():
            if self.secret_texts.get(cred.key_id) == secret:
                return "expired" if cred.end is not None and cred.end <= self._clock() else "ok"
        return "invalid"

    async def get_application(self, app_id: str) -> AppRegistration:
        self._maybe_fail("get_application")
        for app in self.apps.values():
            if app.app_id == app_id:
                return app
        raise NotFound(f"reading app registration {app_id}: no application with this appId")

    def _app(self, object_id: str) -> AppRegistration:
        if object_id not in self.apps:
            raise NotFound(f"application {object_id} not found")
        return self.apps[object_id]

    async def add_password(self, object_id: str, display_name: str, end: datetime) -> NewPassword:
        self._maybe_fail("add_password")
        app = self._app(object_id)
        new = NewPassword(str(uuid.uuid4()), secrets.token_urlsafe(30), end)
        self.secret_texts[new.key_id] = new.secret_text
        cred = AppCredential(new.key_id, display_name, end, "password", new.secret_text[:3])
        self.apps[object_id] = dataclasses.replace(app, credentials=(*app.credentials, cred))
        return new

    def add_certificate(self, object_id: str, display_name: str, end: datetime) -> str:
        app = self._app(object_id)
        cred = AppCredential(str(uuid.uuid4()), display_name, end, "certificate")
        self.apps[object_id] = dataclasses.replace(app, credentials=(*app.credentials, cred))
        return cred.key_id

    async def remove_password(self, object_id: str, key_id: str) -> None:
        self._maybe_fail("remove_password")
        app = self._app(object_id)
        if not any(c.key_id == key_id for c in app.passwords()):
            raise RemoteError(f"removing a client secret: no password {key_id}", status=400,
                              code="Request_BadRequest")
        self.apps[object_id] = dataclasses.replace(
            app, credentials=tuple(c for c in app.credentials if c.key_id != key_id))
        self.secret_texts.pop(key_id, None)

    async def send_mail(self, sender: str, to: Sequence[str], subject: str, body: str) -> None:
        self._maybe_fail("send_mail")
        self.sent.append({"from": sender, "to": list(to), "subject": subject, "body": body})

    def _mailbox(self, upn: str) -> _Mailbox:
        box = self.mailboxes.get(upn.lower())
        if box is None:
            raise NotFound(f"reading mailbox {upn}: HTTP 404 Request_ResourceNotFound")
        if box.denied:
            raise RemoteError(f"reading mailbox {upn}: HTTP 403 ErrorAccessDenied", status=403,
                              code="ErrorAccessDenied")
        return box

    async def get_user(self, upn: str) -> dict[str, Any]:
        self._mailbox(upn)
        return {"id": str(uuid.uuid5(uuid.NAMESPACE_DNS, upn.lower())), "userPrincipalName": upn}

    async def list_categories(self, upn: str) -> list[str]:
        return list(self._mailbox(upn).categories)

    async def list_folder_names(self, upn: str, kind: str) -> list[str]:
        return list(self._mailbox(upn).folders.get(kind, []))

    async def aclose(self) -> None:
        return None


DEFAULT_SECRET_LIFETIME = timedelta(days=365)
