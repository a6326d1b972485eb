"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter, Request

from api.errors import NotReadyError

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="The index is loaded and questions can be answered")
async def readyz(request: Request) -> dict[str, object]:
    if not getattr(request.app.state, "ready", False):
        raise NotReadyError("the knowledge base is still loading")
    manifest = request.app.state.kb.searcher.index.manifest
    return {"status": "ready", "documents": manifest.documents, "model": manifest.model_id}
