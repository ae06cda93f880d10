"""Outgoing e-mail of the simulated instance: system e-mail accounts and the Email MailStatus rules.

- System e-mail accounts (SM204002) are not in the contract API; tests set them with
  ``POST /_sim/email-accounts`` ``[{"id": 1, "address": "billing@contoso.test", "displayName": …,
  "sender": "exsync" | "acumatica"}]`` (``GET`` lists them). ``sender`` says who sends the account's
  outgoing mail: ``acumatica`` is the instance's own SMTP/Exchange sender (the "Send" processing
  of SM507010), which ``POST /_sim/email-accounts/process`` runs once: every Pending Processing
  e-mail of such an account becomes Processed, the way two senders would race in a real instance.
- ``FromEmailAccountID`` must name an account (422 otherwise); ``FromEmailAccountDisplayName`` is
  read-only and follows the account. An outgoing e-mail (``Incoming`` false) in Pending Processing
  needs an account.
- MailStatus changes follow :data:`TRANSITIONS` (a Processed e-mail never goes back to Pending
  Processing: it would be sent twice); others answer 422 naming the change.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web

PENDING, PROCESSING, PROCESSED, FAILED = "Pending Processing", "Processing", "Processed", "Failed"
TRANSITIONS: dict[str, set[str]] = {
    "Draft": {"Draft", PENDING, "Canceled", "Deleted"},
    PENDING: {PENDING, PROCESSING, PROCESSED, FAILED, "Draft", "Canceled"},
    "Scheduled": {"Scheduled", PENDING, PROCESSING, "Canceled"},
    PROCESSING: {PROCESSING, PROCESSED, FAILED, PENDING},
    FAILED: {FAILED, PENDING, "Draft", "Canceled", "Deleted"},
    PROCESSED: {PROCESSED, "Deleted"},
    "Canceled": {"Canceled", "Draft", "Deleted"},
    "Deleted": {"Deleted", "Draft"},
}
SENDERS = ("exsync", "acumatica")


def validate(accounts: Mapping[int, dict[str, Any]], record: dict[str, Any], old: dict[str, Any] | None,
             errors: dict[str, str]) -> None:
    """MailStatus transition and the sending account of an Email being written."""
    account = record.get("FromEmailAccountID")
    if account is not None:
        found = accounts.get(account) if isinstance(account, int) else None
        if found is None:
            errors["FromEmailAccountID"] = f"FromEmailAccountID: '{account}' cannot be found in the system"
        else:
            record["FromEmailAccountDisplayName"] = found.get("displayName") or found["address"]
    status = record.get("MailStatus")
    if status == PENDING and not record.get("Incoming") and account is None and "MailStatus" not in errors:
        errors["FromEmailAccountID"] = "FromEmailAccountID: an outgoing e-mail needs a system e-mail account"
    before = (old or {}).get("MailStatus")
    if before is not None and status != before and status not in TRANSITIONS.get(str(before), {status}):
        errors["MailStatus"] = f"MailStatus: an e-mail cannot change from '{before}' to '{status}'"


def _accounts_body(body: Any) -> dict[int, dict[str, Any]]:
    if not isinstance(body, list):
        raise ValueError("body: expected a list of accounts")
    out: dict[int, dict[str, Any]] = {}
    for i, entry in enumerate(body):
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), int) or "@" not in str(
                entry.get("address", "")):
            raise ValueError(f"[{i}]: expected {{\"id\": int, \"address\": \"billing@contoso.test\"}}")
        sender = entry.get("sender", "exsync")
        if sender not in SENDERS:
            raise ValueError(f"[{i}].sender: use one of {', '.join(SENDERS)}")
        out[entry["id"]] = {"id": entry["id"], "address": str(entry["address"]).lower(),
                            "displayName": str(entry.get("displayName") or ""), "sender": sender}
    return out


def register(app: web.Application, sim: Any, prefix: str, commit: Callable[..., web.Response]) -> None:
    """The admin routes; ``sim`` is the simulator (its ``store``), ``commit`` stores a record as PUT does."""

    async def accounts(request: web.Request) -> web.Response:
        if request.method == "POST":
            try:
                sim.store.email_accounts.update(_accounts_body(await request.json()))
            except ValueError as exc:
                return web.json_response({"error": str(exc)}, status=400)
        return web.json_response(sorted(sim.store.email_accounts.values(), key=lambda a: a["id"]))

    async def process(request: web.Request) -> web.Response:
        """The instance's own sender: Pending Processing mail of ``acumatica`` accounts -> Processed."""
        own = {i for i, a in sim.store.email_accounts.items() if a["sender"] == "acumatica"}
        sent = []
        for record in list(sim.store.records["Email"].values()):
            if record.get("MailStatus") == PENDING and record.get("FromEmailAccountID") in own:
                commit(sim, "Email", {"id": record["id"], "MailStatus": {"value": PROCESSED}}, None, set(),
                       update_only=True)
                sent.append(record["id"])
        return web.json_response({"processed": sent})

    app.router.add_route("GET", f"{prefix}/email-accounts", accounts)
    app.router.add_route("POST", f"{prefix}/email-accounts", accounts)
    app.router.add_post(f"{prefix}/email-accounts/process", process)
