"""The doctor's check of a sending system mailbox: is exsync the only sender of its ERP account?

What the ERP's API can show (Acumatica Default/24.200.001): Email activities with ``MailStatus``,
``FromEmailAccountID`` and ``FromEmailAccountDisplayName``, and when they changed. What it cannot
show: the system e-mail account's own settings (SM204002: its outgoing server, protocol, whether it
sends at all) and whether the "Send" processing of outgoing mail (SM507010) is scheduled for it. So
the check is by outcome: an e-mail of the account marked processed that has no stamped message in
the mailbox's Sent Items was sent by someone else — the ERP's own sender — and the same mail could
go out twice. A second finding: mail that has waited longer than an hour while nothing is suspended.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from shared.mailproc.model import SystemMailbox
from shared.mailsend.run import PENDING, MailPorts

WINDOW = timedelta(days=2)
SAMPLE = 20
STUCK = timedelta(hours=1)
FIX_SENDER = ("In Acumatica, take the account off the ERP's own sending: on Email Accounts (SM204002) clear its "
              "outgoing settings, and remove it from the scheduled Send processing (Email Processing, SM507010); "
              "exsync then sends everything the account queues")


async def check(ports: MailPorts, system: SystemMailbox, suspended: bool) -> list[dict[str, Any]]:
    """Findings ``{"check", "ok", "message"?, "fix"?}`` for one system mailbox."""
    account = system.sending.erp_account_id
    if account is None:
        return [{"check": "an ERP account is set", "ok": False, "message": "the mailbox sends no ERP mail",
                 "fix": "set sending.erp_account_id to the account's FromEmailAccountID"}]
    now = ports.clock.now()
    processed = (await ports.outbox.processed_since(account, now - WINDOW))[-SAMPLE:]
    foreign = [mail for mail in processed if await ports.sender.find_sent(system.address, mail) is None]
    findings: list[dict[str, Any]] = [{"check": "only exsync sends the account's mail", "ok": not foreign}]
    if foreign:
        findings[0].update(message=f"{len(foreign)} of the last {len(processed)} processed e-mails of ERP account "
                                   f"{account} are not in {system.address}'s Sent Items: another sender sent them",
                           fix=FIX_SENDER, erp_ids=foreign)
    waiting = [m for m in await ports.outbox.pending(account, 50)
               if m.status == PENDING and m.created_at is not None and m.created_at < now - STUCK]
    stuck = {"check": "no mail waits longer than an hour", "ok": suspended or not waiting}
    if waiting and not suspended:
        stuck.update(message=f"{len(waiting)} e-mail(s) have waited more than an hour",
                     fix="see the mailbox's sending status (quota, failures) and the log")
    findings.append(stuck)
    return findings
