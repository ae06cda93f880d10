"""The Graph HTTP stack: msgraph-sdk ``GraphServiceClient`` over our kiota middleware pipeline.

Owns how requests reach Graph: the httpx client, the middleware order (redirects, kiota's
RetryHandler for 429/5xx/network failures with backoff and Retry-After, per-mailbox pacing
innermost), authentication (azure-identity credential, hosts allowed for the token), the
``Prefer`` headers every request carries, and sending :class:`RequestInformation` through the
request adapter with Graph errors translated into :mod:`shared.errors`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, TypeVar, cast
from urllib.parse import quote, urlsplit

import httpx
from azure.core.credentials_async import AsyncTokenCredential
from kiota_abstractions.method import Method
from kiota_abstractions.request_information import RequestInformation
from kiota_abstractions.serialization import Parsable
from kiota_http.kiota_client_factory import KiotaClientFactory
from kiota_http.middleware import RedirectHandler, UserAgentHandler
from kiota_http.middleware.options import RetryHandlerOption
from msgraph.graph_request_adapter import GraphRequestAdapter
from msgraph.graph_service_client import GraphServiceClient
from msgraph_core.authentication import AzureIdentityAuthenticationProvider

from shared.graph import speedups
from shared.graph.auth import StaticTokenCredential
from shared.graph.pacing import Pacer, PacingHandler, PacingOption, PacingPolicy
from shared.graph.retry import GraphRetryHandler, TransportErrorHandler
from shared.graph.wire import ERROR_MAPPING, PREFER, to_json, translate

logger = logging.getLogger(__name__)

P = TypeVar("P", bound=Parsable)

GRAPH_BASE_URL = "https://graph.microsoft.com/v1.0"
DEFAULT_TIMEOUT = 100.0  # seconds for Graph's answer (Graph itself gives up on a request after about 100 s)


def build_http_client(base_url: str, pacer: Pacer, retry: RetryHandlerOption,
                      http_client: httpx.AsyncClient | None = None,
                      timeout: float = DEFAULT_TIMEOUT) -> httpx.AsyncClient:
    """An httpx client whose transport runs our middleware pipeline (outermost first)."""
    client = http_client or httpx.AsyncClient(timeout=httpx.Timeout(timeout, connect=min(30.0, timeout)))
    client.base_url = httpx.URL(base_url)
    middleware = [RedirectHandler(), GraphRetryHandler(retry), TransportErrorHandler(), UserAgentHandler(),
                  PacingHandler(pacer)]
    return cast(httpx.AsyncClient, KiotaClientFactory.create_with_custom_middleware(middleware, client))


class GraphHttp:
    """A GraphServiceClient plus the plumbing to send hand-built requests through its adapter."""

    def __init__(self, credential: AsyncTokenCredential | None, base_url: str = GRAPH_BASE_URL, *,
                 pacing: PacingPolicy | None = None, retry: RetryHandlerOption | None = None,
                 http_client: httpx.AsyncClient | None = None, timeout: float = DEFAULT_TIMEOUT) -> None:
        speedups.install()
        self.base_url = base_url.rstrip("/")
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"base_url: expected an absolute http(s) URL, got {base_url!r}")
        self.pacer = Pacer(pacing)
        self.credential: AsyncTokenCredential = credential or StaticTokenCredential()
        scope = ("https://graph.microsoft.com/.default" if parts.hostname.endswith("graph.microsoft.com")
                 else f"{parts.scheme}://{parts.netloc}/.default")
        auth = AzureIdentityAuthenticationProvider(self.credential, scopes=[scope],
                                                   allowed_hosts=[parts.hostname])
        self.http = build_http_client(self.base_url, self.pacer, retry or RetryHandlerOption(), http_client,
                                      timeout)
        self.adapter = GraphRequestAdapter(auth, client=self.http)
        self.adapter.base_url = self.base_url
        self.client = GraphServiceClient(request_adapter=self.adapter)

    def url(self, path_or_url: str) -> str:
        """An absolute URL for a path relative to the base URL (absolute URLs pass through)."""
        if path_or_url.startswith(("http://", "https://")):
            return path_or_url
        return f"{self.base_url}{path_or_url}"

    def request(self, method: Method, path_or_url: str, mailbox: str, *,
                query: Mapping[str, str] | None = None, body: Parsable | None = None,
                raw_body: bytes | None = None, headers: Mapping[str, str] | None = None,
                prefer: Sequence[str] = (), cost: int = 1) -> RequestInformation:
        """A RequestInformation with our Prefer headers and the mailbox's pacing option."""
        info = RequestInformation()
        info.http_method = method
        url = self.url(path_or_url)
        if query:
            query_text = "&".join(f"{k}={encode_query(v)}" for k, v in query.items())
            url = f"{url}{'&' if '?' in url else '?'}{query_text}"
        info.url = url
        info.headers.add("Accept", "application/json")
        info.headers.add("Prefer", [*PREFER, *prefer])
        for name, value in (headers or {}).items():
            info.headers.add(name, value)
        info.add_request_options([PacingOption(mailbox, cost)])
        if body is not None:  # our writer, not kiota's backing-store proxy (it leaks python names of nulls)
            raw_body = json.dumps(to_json(body)).encode()
        if raw_body is not None:
            info.set_stream_content(raw_body, "application/json")
        return info

    async def send(self, info: RequestInformation, factory: type[P]) -> P | None:
        try:
            result: P | None = await self.adapter.send_async(info, factory, ERROR_MAPPING)
            return result
        except Exception as exc:
            raise translate(exc) from exc

    async def send_no_content(self, info: RequestInformation) -> None:
        try:
            await self.adapter.send_no_response_content_async(info, ERROR_MAPPING)
        except Exception as exc:
            raise translate(exc) from exc

    async def send_bytes(self, info: RequestInformation) -> bytes:
        try:
            raw: Any = await self.adapter.send_primitive_async(info, "bytes", ERROR_MAPPING)
        except Exception as exc:
            raise translate(exc) from exc
        return bytes(raw or b"")

    async def pages(self, mailbox: str, path: str, collection: Any,
                    query: dict[str, str] | None = None) -> AsyncIterator[Any]:
        """Every entry of a collection, following @odata.nextLink."""
        url: str | None = self.url(path)
        first = True
        while url:
            info = self.request(Method.GET, url, mailbox, query=query if first else None)
            first = False
            page = await self.send(info, collection)
            if page is None:
                return
            for entry in page.value or ():
                yield entry
            url = page.odata_next_link

    async def put_chunk(self, upload_url: str, chunk: bytes, start: int, total: int) -> httpx.Response:
        """One byte range of an upload session (pre-authenticated URL: no bearer token)."""
        headers = {"Content-Range": f"bytes {start}-{start + len(chunk) - 1}/{total}",
                   "Content-Length": str(len(chunk)), "Content-Type": "application/octet-stream"}
        try:
            response = await self.http.put(upload_url, content=chunk, headers=headers)
        except httpx.HTTPError as exc:
            raise translate(exc) from exc
        return response

    async def aclose(self) -> None:
        await self.http.aclose()


def encode_query(value: str) -> str:
    """A query value percent-encoded, keeping OData punctuation readable."""
    return quote(value, safe="$'(),:=/@*")
