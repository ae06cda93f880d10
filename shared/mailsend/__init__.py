"""Transactional mail: ERP e-mail queued for a system account, sent from its system mailbox (PRODUCT §8).

- :mod:`~shared.mailsend.decide`: the pure send decision (send, confirm, wait, fail) and how a
  message is composed (reply, MIME with automatic headers, plain JSON; the case tag).
- :mod:`~shared.mailsend.quota`: Exchange's sending limits kept per mailbox.
- :mod:`~shared.mailsend.run`: the executor through the ports (outbox, sender, CRM, documents).
- :mod:`~shared.mailsend.pickup`: which system mailboxes send, on the schedule and on an ERP push.
"""
