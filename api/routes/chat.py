"""The citizen chat: POST /api/v1/chat and polling for staff replies after a handoff."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from starlette.concurrency import run_in_threadpool

from api.deps import ChatDep, ClientDep, LimiterDep
from api.errors import NotFoundError
from api.ratelimit import client_hash
from api.schemas import ChatMessageOut, ChatRequest, ChatResponse, TurnOut

router = APIRouter(prefix="/api/v1/chat", tags=["chat"])
SessionId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{8,64}$")]


@router.post("", response_model=ChatResponse, summary="Send one chat message")
async def chat(
    body: ChatRequest, service: ChatDep, limiter: LimiterDep, client: ClientDep
) -> ChatResponse:
    await limiter.hit("chat", client)
    known = body.session_id is not None and await run_in_threadpool(service.exists, body.session_id)
    if not known:
        await limiter.hit("new_conversations", client)
    keyed = client_hash(client, service.kb.settings.secret_key)
    reply = await service.handle(body.session_id, body.message, client=keyed)
    return ChatResponse(
        session_id=reply.session_id,
        messages=[ChatMessageOut(text=m.text, buttons=m.buttons) for m in reply.messages],
        handoff=reply.handoff,
        degraded=reply.degraded,
    )


@router.get(
    "/{session_id}/messages",
    response_model=list[TurnOut],
    summary="Turns after a given id (the widget polls it for staff replies)",
)
async def messages(
    session_id: SessionId, service: ChatDep, after: Annotated[int, Query(ge=0)] = 0
) -> list[TurnOut]:
    turns = await run_in_threadpool(service.transcript, session_id, after)
    if turns is None:
        raise NotFoundError("unknown session_id")
    return [
        TurnOut(id=t.id, role=t.role.value, text=t.text, created_at=t.created_at) for t in turns
    ]
