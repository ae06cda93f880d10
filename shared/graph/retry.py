"""Retries through kiota's middleware: which failures are retried, and network failures as answers.

kiota's RetryHandler retries 429/503/504 for every method, honouring ``Retry-After`` and backing
off exponentially otherwise. :class:`GraphRetryHandler` widens that to every 5xx for requests
that are safe to repeat, and keeps a POST (which may create something) to the statuses that say
"not processed" (429, 503) or to failures where nothing reached the server.
:class:`TransportErrorHandler` turns network failures into synthetic 504 answers so the same
handler retries them.
"""

from __future__ import annotations

import logging
from typing import cast

import httpx
from kiota_http.middleware import RetryHandler
from kiota_http.middleware.middleware import BaseMiddleware
from kiota_http.middleware.options import RetryHandlerOption

from shared import metrics
from shared.graph.wire import ANSWER_LOST

logger = logging.getLogger(__name__)

NOT_SENT_HEADER = "x-exsync-not-sent"
RETRY_STATUS_CODES = frozenset({429, 500, 502, 503, 504})
POST_RETRY_STATUS_CODES = frozenset({429, 503})


class GraphRetryHandler(RetryHandler):  # type: ignore[misc]
    """kiota's RetryHandler with our status policy (see the module docstring)."""

    def __init__(self, options: RetryHandlerOption | None = None) -> None:
        super().__init__(options)
        self.retry_on_status_codes = set(RETRY_STATUS_CODES)

    def should_retry(self, request: httpx.Request, options: RetryHandlerOption, response: httpx.Response) -> bool:
        if response.status_code == 429:
            metrics.throttled("graph")
        if not super().should_retry(request, options, response):
            return False
        if request.method.upper() != "POST" or response.headers.get(NOT_SENT_HEADER):
            return True
        return response.status_code in POST_RETRY_STATUS_CODES


class TransportErrorHandler(BaseMiddleware):  # type: ignore[misc]
    """Network failures become a synthetic 504 the retry handler can retry.

    Connection failures (nothing was sent) are marked not-sent, so even a POST is retried; read
    timeouts and dropped connections are retried for every method but POST, which could have
    created something already (it surfaces as :class:`shared.errors.AnswerLost`; the batch runner
    settles it by :mod:`shared.graph.recovery`).
    """

    async def send(self, request: httpx.Request, transport: httpx.AsyncBaseTransport) -> httpx.Response:
        try:
            return cast(httpx.Response, await super().send(request, transport))
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            return _gateway_timeout(request, exc, sent=False)
        except ANSWER_LOST as exc:
            if request.method.upper() == "POST":
                raise
            return _gateway_timeout(request, exc, sent=True)


def _gateway_timeout(request: httpx.Request, exc: Exception, *, sent: bool) -> httpx.Response:
    logger.info("network failure on %s %s: %s; retrying", request.method, request.url.path, type(exc).__name__)
    headers = {} if sent else {NOT_SENT_HEADER: "1"}
    return httpx.Response(504, request=request, headers=headers, json={"error": {
        "code": "networkFailure", "message": f"{type(exc).__name__} before a response"}})
