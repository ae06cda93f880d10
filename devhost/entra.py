"""The local host's sign-in: the production credential code against the Graph simulator's
Entra-like token endpoint (:mod:`sim.graph.resources.entra`).

azure-identity only talks to an https authority, so the credential keeps
``https://login.microsoftonline.com`` and :class:`LoginTransport` (an azure-core transport) sends
those requests to the simulator's ``/_sim/login/...`` instead. The app registration is the
simulator's seeded application; :func:`issue_secret` gets a client secret for it with Graph's
``addPassword``, as an administrator would in the Entra admin center.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx
from azure.core.pipeline.transport import AioHttpTransport

from shared.credentials.providers import ProviderOptions

AUTHORITY = "https://login.microsoftonline.com"
LOCAL_TENANT = "contoso.test"
# The application object the Graph simulator seeds (sim/graph/resources/applications.py).
SIM_APP_OBJECT_ID = "3f1c9c2e-5e7a-4a51-9d7e-0d3c2b6a0e01"
SIM_APP_ID = "8a7e6d5c-4b3a-4c2d-9e1f-0a1b2c3d4e5f"


class LoginTransport(AioHttpTransport):  # type: ignore[misc]
    """Sends requests for the Entra authority to the simulator's token endpoint."""

    def __init__(self, simulator_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._base = simulator_url.rstrip("/") + "/_sim/login"

    async def send(self, request: Any, **kwargs: Any) -> Any:
        original = request.url
        parts = urlsplit(original)
        if f"{parts.scheme}://{parts.netloc}" == AUTHORITY:
            request.url = self._base + parts.path + (f"?{parts.query}" if parts.query else "")
        try:
            return await super().send(request, **kwargs)
        finally:
            request.url = original


def provider_options(simulator_url: str, environ: Mapping[str, str]) -> ProviderOptions:
    """Credential providers signing in at the simulator; secrets from the stack's app settings."""
    return ProviderOptions(authority=AUTHORITY, transport_factory=lambda: LoginTransport(simulator_url),
                           environ=dict(environ))


async def issue_secret(simulator_url: str) -> str:
    """A new client secret of the simulator's app registration (Graph ``addPassword``)."""
    async with httpx.AsyncClient(base_url=simulator_url, timeout=30,
                                 headers={"Authorization": "Bearer local-administrator"}) as graph:
        response = await graph.post(f"/v1.0/applications/{SIM_APP_OBJECT_ID}/addPassword",
                                    json={"passwordCredential": {"displayName": "exsync local host"}})
        response.raise_for_status()
        return str(response.json()["secretText"])


def sign_in_settings(secret: str) -> dict[str, str]:
    """The app settings a deployment would set for this registration (a server needs only a name).

    No Key Vault and no managed identity locally: a new server's credential is the ``environment``
    kind, the secret in ``EXSYNC_CLIENT_SECRET``.
    """
    return {"EXSYNC_TENANT_ID": LOCAL_TENANT, "EXSYNC_CLIENT_ID": SIM_APP_ID, "EXSYNC_CLIENT_SECRET": secret,
            "EXSYNC_KEY_VAULT_URL": "", "EXSYNC_CLIENT_SECRET_NAME": "", "AZURE_CLIENT_ID": ""}
