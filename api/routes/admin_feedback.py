"""Feedback and complaint tickets for staff: list by status, record the reply sent."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from api.deps import EditorDep, KnowledgeBaseDep
from api.errors import NotFoundError
from api.schemas import CitizenText
from knowledge_base.db import session_scope
from nlu import tickets
from nlu.models import FeedbackStatus, FeedbackTicket

router = APIRouter(prefix="/api/v1/admin/feedback", tags=["staff: feedback"])
TicketNumber = Annotated[str, Path(pattern=r"^PA-\d{4}-\d{6}$")]


class TicketOut(BaseModel):
    ticket: str
    conversation_id: str | None
    content: str
    contact: str
    status: str
    reply: str
    created_at: datetime

    @classmethod
    def of(cls, t: FeedbackTicket) -> TicketOut:
        return cls(
            ticket=t.ticket,
            conversation_id=t.conversation_id,
            content=t.content,
            contact=t.contact,
            status=t.status.value,
            reply=t.reply,
            created_at=t.created_at,
        )


class TicketAnswer(BaseModel):
    status: FeedbackStatus
    reply: CitizenText


@router.get("", response_model=list[TicketOut])
async def list_feedback(
    kb: KnowledgeBaseDep, _: EditorDep, status: FeedbackStatus | None = None
) -> list[TicketOut]:
    def work() -> list[TicketOut]:
        with session_scope(kb.engine) as session:
            return [TicketOut.of(t) for t in tickets.list_tickets(session, status)]

    return await run_in_threadpool(work)


@router.post("/{number}", response_model=TicketOut)
async def answer_feedback(
    number: TicketNumber, body: TicketAnswer, kb: KnowledgeBaseDep, staff: EditorDep
) -> TicketOut:
    def work() -> TicketOut | None:
        with session_scope(kb.engine) as session:
            found = tickets.answer(session, staff.username, number, body.status, body.reply)
            return TicketOut.of(found) if found is not None else None

    result = await run_in_threadpool(work)
    if result is None:
        raise NotFoundError(f"no ticket {number}")
    return result
