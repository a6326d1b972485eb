"""Liveness and readiness probes."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from api.errors import NotReadyError
from api.schemas import error_responses
from knowledge_base.db import ping

logger = logging.getLogger(__name__)
router = APIRouter(tags=["health"], responses=error_responses())
DATABASE_CHECK_S = 3.0


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="The index is loaded and the database answers",
    description="503 while the knowledge base loads or the database is unreachable, so a "
    "load balancer sends traffic elsewhere; green again by itself when the database is back.",
)
async def readyz(request: Request) -> dict[str, object]:
    if not getattr(request.app.state, "ready", False):
        raise NotReadyError("the knowledge base is still loading")
    kb = request.app.state.kb
    try:
        await asyncio.wait_for(run_in_threadpool(ping, kb.engine), DATABASE_CHECK_S)
    except Exception as exc:  # any failure to answer SELECT 1 means not ready
        logger.warning("readyz.database_down", extra={"error": type(exc).__name__})
        raise NotReadyError("the database is unreachable") from exc
    manifest = kb.searcher.index.manifest
    return {"status": "ready", "documents": manifest.documents, "model": manifest.model_id}
