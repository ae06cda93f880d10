"""``exsync system-mailboxes …``: the system-mailboxes resource from the command line.

    exsync system-mailboxes list | get ADDRESS | create FILE | put ADDRESS FILE | delete ADDRESS
    exsync system-mailboxes test ADDRESS | dry-run ADDRESS [--last N] | run ADDRESS

FILE is a JSON file or ``-`` for stdin (the body of ``POST /api/system-mailboxes``).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, Protocol

COMMAND = "system-mailboxes"


class Caller(Protocol):
    def call(self, method: str, path: str, body: Any = None, params: dict[str, str] | None = None) -> Any: ...


def register(sub: Any) -> None:
    """Add the sub-command to the ``exsync`` parser's sub-parsers."""
    s = sub.add_parser(COMMAND, help="manage system mailboxes (support@, sales@)").add_subparsers(
        dest="action", required=True, metavar="action")
    s.add_parser("list", help="list system mailboxes")
    for action, text in (("get", "show a system mailbox"), ("delete", "remove a system mailbox"),
                         ("test", "test: mailbox reachable, readable, writable; Inbox subscription"),
                         ("run", "queue a processing run of the Inbox now")):
        s.add_parser(action, help=text).add_argument("address", help="the mailbox address")
    s.add_parser("create", help="add a system mailbox from JSON").add_argument(
        "file", help="JSON file, or - for stdin")
    put = s.add_parser("put", help="create or replace a system mailbox from JSON")
    put.add_argument("address", help="the mailbox address")
    put.add_argument("file", help="JSON file, or - for stdin")
    dry = s.add_parser("dry-run", help="what processing would do to the newest Inbox messages (writes nothing)")
    dry.add_argument("address", help="the mailbox address")
    dry.add_argument("--last", type=int, default=10, help="how many of the newest messages (1-50, default 10)")


def handle(api: Caller, args: argparse.Namespace, read_json: Callable[[str], Any]) -> Any:
    base = f"/{COMMAND}"
    action = args.action
    if action == "list":
        return api.call("GET", base)
    if action == "create":
        return api.call("POST", base, read_json(args.file))
    path = f"{base}/{args.address}"
    if action == "put":
        return api.call("PUT", path, read_json(args.file))
    if action == "get":
        return api.call("GET", path)
    if action == "delete":
        return api.call("DELETE", path)
    if action == "dry-run":
        return api.call("POST", f"{path}/dry-run", params={"last": str(args.last)})
    return api.call("POST", f"{path}/{action}")
