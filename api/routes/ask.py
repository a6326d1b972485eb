"""POST /api/v1/ask — one question, one answer from the knowledge base."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool

from api.deps import KnowledgeBaseDep, rate_limit
from api.schemas import AskRequest, AskResponse, error_responses
from knowledge_base.metrics import count_answer

router = APIRouter(prefix="/api/v1", tags=["ask"], responses=error_responses(400, 413, 422, 429))


@router.post(
    "/ask",
    response_model=AskResponse,
    summary="Answer a citizen's question",
    dependencies=[Depends(rate_limit("ask"))],
)
async def ask(body: AskRequest, kb: KnowledgeBaseDep) -> AskResponse:
    # Embedding, faiss and BM25 are CPU work: keep them off the event loop.
    result = await run_in_threadpool(kb.ask, body.question, body.top_k)
    count_answer("api", result.answerable, result.refusal_kind)
    return AskResponse(
        answerable=result.answerable,
        aspect=result.aspect,
        answer=result.answer,
        procedures=[asdict(p) for p in result.procedures],
        faq=[asdict(f) for f in result.faq],
        refusal_kind=result.refusal_kind,
    )
