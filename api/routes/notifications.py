"""Dossier notifications over HTTP: the chat widget's inbox (public, keyed by the session id
like the transcript) and what staff see of the outbox."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel
from sqlalchemy.orm import Session

from api.deps import ClientDep, KnowledgeBaseDep, LimiterDep, ReviewerDep, run_in_session
from api.errors import NotFoundError
from api.schemas import MAX_DB_INT, UtcDateTime, error_responses
from nlu.notifications import service
from nlu.notifications.models import Channel, OutboxStatus
from nlu.notifications.senders import unread_web_messages

widget_router = APIRouter(
    prefix="/api/v1/chat", tags=["chat"], responses=error_responses(400, 422, 429)
)
admin_router = APIRouter(
    prefix="/api/v1/admin/notifications",
    tags=["staff: notifications"],
    responses=error_responses(400, 401, 403, 404, 422),
)
SessionId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{8,64}$")]
MessageId = Annotated[int, Path(ge=1, le=MAX_DB_INT)]


class WebNotificationOut(BaseModel):
    text: str
    created_at: UtcDateTime


class CancelledOut(BaseModel):
    cancelled: int


@widget_router.get(
    "/{session_id}/notifications",
    response_model=list[WebNotificationOut],
    summary="Dossier notifications for this widget session not shown yet (then marked shown)",
)
async def web_notifications(
    session_id: SessionId, kb: KnowledgeBaseDep, limiter: LimiterDep, client: ClientDep
) -> list[WebNotificationOut]:
    # also for a conversation that has ended: news about a dossier comes days later
    await limiter.hit("chat", client)
    rows = await run_in_session(kb, lambda s: unread_web_messages(s, session_id))
    return [WebNotificationOut(text=r.text, created_at=r.created_at) for r in rows]


@widget_router.post(
    "/{session_id}/notifications/cancel",
    response_model=CancelledOut,
    summary="Stop the dossier notifications of this widget session",
)
async def cancel_web_notifications(
    session_id: SessionId, kb: KnowledgeBaseDep, limiter: LimiterDep, client: ClientDep
) -> CancelledOut:
    await limiter.hit("chat", client)
    ended = await run_in_session(
        kb, lambda s: service.cancel(s, [(Channel.WEB, session_id)], conversation_id=session_id)
    )
    return CancelledOut(cancelled=ended)


class OutboxItemOut(BaseModel):
    id: int
    channel: str
    address_hint: str
    dossier_hint: str
    text: str
    status: str
    attempts: int
    next_attempt_at: UtcDateTime
    sent_at: UtcDateTime | None
    last_error: str
    created_at: UtcDateTime


class OutboxOut(BaseModel):
    counts: dict[str, int]
    items: list[OutboxItemOut]


@admin_router.get("", response_model=OutboxOut)
async def list_notifications(
    kb: KnowledgeBaseDep,
    _: ReviewerDep,
    status: OutboxStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> OutboxOut:
    def read(session: Session) -> OutboxOut:
        views = service.list_messages(session, status, limit)
        items = [OutboxItemOut.model_validate(v, from_attributes=True) for v in views]
        return OutboxOut(counts=service.counts(session), items=items)

    return await run_in_session(kb, read)


@admin_router.post("/{message_id}/retry", response_model=OutboxItemOut)
async def retry_notification(
    message_id: MessageId, kb: KnowledgeBaseDep, staff: ReviewerDep
) -> OutboxItemOut:
    """Queue a failed or dead message again (same idempotency key)."""

    def run(session: Session) -> OutboxItemOut | None:
        if not service.retry(session, message_id, staff.username):
            return None
        (view,) = service.list_messages(session, message_id=message_id)
        return OutboxItemOut.model_validate(view, from_attributes=True)

    retried = await run_in_session(kb, run)
    if retried is None:
        raise NotFoundError(f"no failed or dead notification {message_id}")
    return retried
