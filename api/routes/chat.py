"""The citizen chat: POST /api/v1/chat and polling for staff replies after a handoff.

A conversation idle for ``HOTLINE_CHAT_SESSION_IDLE_MINUTES`` (``nlu.chat_sessions``) is
over for the public side: its transcript answers 410 and a message under its id starts a new
conversation with a new id (the widget keeps whichever id the last answer gave it).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from starlette.concurrency import run_in_threadpool

from api.deps import ChatDep, ClientDep, LimiterDep
from api.errors import ApiError, NotFoundError
from api.ratelimit import client_hash
from api.schemas import (
    MAX_DB_INT,
    ChatMessageOut,
    ChatRequest,
    ChatResponse,
    TurnOut,
    error_responses,
)
from nlu.chat_sessions import SessionStatus

router = APIRouter(
    prefix="/api/v1/chat",
    tags=["chat"],
    responses=error_responses(400, 404, 410, 413, 422, 429),
)
SessionId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{8,64}$")]


class SessionExpiredError(ApiError):
    status_code = 410
    code = "session_expired"


@router.post("", response_model=ChatResponse, summary="Send one chat message")
async def chat(
    body: ChatRequest, service: ChatDep, limiter: LimiterDep, client: ClientDep
) -> ChatResponse:
    await limiter.hit("chat", client)
    session_id = body.session_id
    status = SessionStatus.UNKNOWN
    if session_id is not None:
        status = await run_in_threadpool(service.status, session_id)
    if status is SessionStatus.EXPIRED:
        session_id = None
    if status is not SessionStatus.ACTIVE:
        await limiter.hit("new_conversations", client)
    keyed = client_hash(client, service.kb.settings.secret_key)
    reply = await service.handle(session_id, body.message, client=keyed)
    return ChatResponse(
        session_id=reply.session_id,
        messages=[ChatMessageOut(text=m.text, buttons=m.buttons) for m in reply.messages],
        handoff=reply.handoff,
        degraded=reply.degraded,
        kind=reply.kind,
        procedure_code=reply.procedure_code,
    )


@router.get(
    "/{session_id}/messages",
    response_model=list[TurnOut],
    summary="Turns after a given id (the widget polls it for staff replies)",
)
async def messages(
    session_id: SessionId,
    service: ChatDep,
    after: Annotated[int, Query(ge=0, le=MAX_DB_INT)] = 0,
) -> list[TurnOut]:
    status = await run_in_threadpool(service.status, session_id)
    if status is SessionStatus.EXPIRED:
        raise SessionExpiredError("this conversation has ended; send a message to start a new one")
    turns = await run_in_threadpool(service.transcript, session_id, after)
    if turns is None:
        raise NotFoundError("unknown session_id")
    return [
        TurnOut(id=t.id, role=t.role.value, text=t.text, created_at=t.created_at) for t in turns
    ]
