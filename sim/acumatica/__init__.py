"""Simulated Acumatica instance: the contract-based REST API, endpoint ``Default/24.200.001``.

Start: ``python -m sim.acumatica --host 127.0.0.1 --port PORT [--login NAME:PASSWORD@TENANT]
[--api-users N] [--latency-ms N] [--session-timeout-s S] [--push-retry-ms MS]`` (default login
``admin:setup@Company``, 2 API users); prints ``acumatica simulator ready http://HOST:PORT``.

API (Acumatica's paths, codes and JSON shapes):

- ``POST /entity/auth/login`` ``{"name","password","tenant"}`` -> 204 + cookies
  (``ASP.NET_SessionId``, ``.ASPXAUTH``); one login more than ``--api-users`` -> 429
  "API Login Limit"; bad credentials -> 500 ``PX.Data.PXException``. ``POST /entity/auth/logout``
  -> 204 frees the licence slot. Idle sessions expire after ``--session-timeout-s``.
- ``POST /identity/connect/token`` (form): ``grant_type=password`` (client_id ``…@TENANT``,
  client_secret, username, password, scope ``api offline_access``) and ``grant_type=refresh_token``;
  bearer tokens do not take a licence slot.
- Without a session or token every entity request answers 401 with an ``HttpError`` body.
- ``/entity/Default/24.200.001/{Contact|Email|Task|Event|Employee|BusinessAccount|Case|Lead|Opportunity}``:
  ``GET`` list (``$filter``, ``$select``, ``$expand``, ``$top``, ``$skip``; insertion order),
  ``PUT`` upsert (matches ``id`` or the key field, or the first record its ``$filter`` selects;
  ``If-None-Match: *`` create-only and ``If-Match: *`` update-only -> 412, so a ``$filter`` on
  ``NoteID`` and ``LastModifiedDateTime`` with ``If-Match: *`` is a compare-and-swap),
  ``GET``/``DELETE`` ``/{id or key}``,
  ``PUT /{id}/files/{name}`` (octet-stream) -> 204 + ``Location``; ``GET``/``DELETE``
  ``/entity/Default/24.200.001/files/{fileId}``. Details (``Attendees``), linked objects
  (``Address``) and ``files`` are returned only when named in ``$expand``.
- Strictness: a field not in ``fields.json`` (generated from the official OpenAPI by
  ``scripts/gen_acumatica_fields.py``) -> 400; invalid values (unknown Status/Priority/MailStatus,
  an Owner that is no EmployeeID, a bad e-mail, a RelatedEntityNoteID that does not exist, a
  forbidden task status change) -> 422 with the record and a per-field ``error``.
- CRM (:mod:`sim.acumatica.crm`): Case/Lead/Opportunity numbering, statuses, closing and reopening,
  ``$expand=Activities`` (their related activities), ``POST /Email/CreateCaseFromEmail`` and
  ``/Email/CreateLeadFromEmail`` ``{"entity": {"id": …}}`` -> 204.
- Outgoing mail (:mod:`sim.acumatica.outbox`): ``FromEmailAccountID`` must name a system e-mail
  account (``POST /_sim/email-accounts``), MailStatus changes follow Acumatica's (Processed never
  returns to Pending Processing); ``POST /_sim/email-accounts/process`` runs the instance's own sender.
- A query string over 2,048 characters (IIS's default ``maxQueryString``) -> 404.15 before any
  other check.
- Values: Task/Event ``Status`` as labels (Draft, Open, In Process, Completed, Approved, Rejected,
  Canceled, Pending Approval, Released); ``Priority`` Low/Normal/High. ``LastModifiedDateTime``
  is stamped on every write, strictly increasing (ms resolution).

Admin surface (no auth, JSON):

- ``POST /_sim/faults``, ``DELETE /_sim/faults``, ``GET /_sim/requests`` (see :mod:`sim.common`).
- ``POST /_sim/push`` ``{"url": URL|null, "headers": {...}}`` sets the push webhook; after each
  committed change it receives ``{"Inserted","Deleted","Query","CompanyId","Id","TimeStamp",
  "AdditionalInfo"}`` (retried up to 5 times). ``GET /_sim/push`` lists deliveries.
- ``POST /_sim/seed`` ``{"Employee": [record…], "Contact": [record…], …}``: records in the API's
  wrapped shape, stored like a PUT (validated, pushed) without a session; answers the stored records.
- ``POST /_sim/reset``: empty database, no sessions, no faults, empty journal, no webhook; the
  default employee ``EP00000001`` (admin@example.com) is seeded again.
- ``GET /_sim/sessions``: ``{"active": n, "limit": n}``.
- ``GET /_sim/clock``; ``POST /_sim/clock`` ``{"advance_seconds": s}`` moves the instance's clock
  (LastModifiedDateTime stamps, the ``Date`` header) forward until the next reset.
- ``GET /_sim/licence``: the licence's request limits and what they did (admitted, delayed,
  refused, peak concurrency); ``POST /_sim/licence`` ``{"requests_per_minute", "concurrent_requests",
  "time_scale"}`` sets them (0: off, the default; see :mod:`sim.acumatica.licence`). Requests over
  the limits are delayed, and refused with 429 when more than 20 wait.
"""
