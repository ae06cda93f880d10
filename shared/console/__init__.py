"""The admin web console: server-rendered pages (Jinja2 + htmx) over the admin API's handlers.

Every change goes through :func:`shared.admin.api.dispatch`, so the console has no rule of its own
about policies, servers, mailboxes or runs. See ``docs/console.md``.
"""
