"""Request counts and latency by route template, and ``GET /metrics`` for Prometheus."""

from __future__ import annotations

import hmac
import time

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import UnauthorizedError
from knowledge_base.metrics import (
    HTTP_LATENCY,
    HTTP_REQUESTS,
    INDEX_BUILT,
    INDEX_DOCUMENTS,
    exposition,
)

router = APIRouter(tags=["health"])


class RequestMetricsMiddleware:
    """Counts by the matched route's template (``/api/v1/chat/{session_id}/messages``), never by
    the raw path, so a client cannot grow the number of series."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def recording(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, recording)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = str(scope.get("method", ""))
            HTTP_REQUESTS.labels(method, route, str(status)).inc()
            HTTP_LATENCY.labels(method, route).observe(time.perf_counter() - started)


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    description="Needs `Authorization: Bearer <HOTLINE_METRICS_TOKEN>` when that is set.",
    response_class=Response,
)
async def metrics(request: Request) -> Response:
    kb = request.app.state.kb
    token = kb.settings.metrics_token
    if token:
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise UnauthorizedError("a valid metrics token is required")
    if getattr(request.app.state, "ready", False):
        manifest = kb.searcher.index.manifest
        INDEX_DOCUMENTS.set(manifest.documents)
        INDEX_BUILT.set(manifest.built_at)
    body, content_type = await run_in_threadpool(exposition)
    return Response(body, media_type=content_type)
