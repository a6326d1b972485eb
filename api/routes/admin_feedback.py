"""Feedback and complaint tickets for staff: list by status, record the reply sent."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel
from sqlalchemy.orm import Session

from api.deps import EditorDep, KnowledgeBaseDep, run_in_session
from api.errors import NotFoundError
from api.schemas import CitizenText, UtcDateTime, error_responses
from nlu import tickets
from nlu.models import FeedbackStatus, FeedbackTicket

router = APIRouter(
    prefix="/api/v1/admin/feedback",
    tags=["staff: feedback"],
    responses=error_responses(400, 401, 403, 404, 413, 422),
)
TicketNumber = Annotated[str, Path(pattern=r"^PA-\d{4}-\d{6,12}$")]


class TicketOut(BaseModel):
    ticket: str
    conversation_id: str | None
    content: str
    contact: str
    status: str
    reply: str
    created_at: UtcDateTime

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


def answer_ticket(
    session: Session, actor: str, number: str, status: FeedbackStatus, reply: str
) -> TicketOut | None:
    found = tickets.answer(session, actor, number, status, reply)
    return TicketOut.of(found) if found is not None else None


class TicketAnswer(BaseModel):
    status: FeedbackStatus
    reply: CitizenText


@router.get("", response_model=list[TicketOut])
async def list_feedback(
    kb: KnowledgeBaseDep, _: EditorDep, status: FeedbackStatus | None = None
) -> list[TicketOut]:
    return await run_in_session(
        kb, lambda s: [TicketOut.of(t) for t in tickets.list_tickets(s, status)]
    )


@router.post("/{number}", response_model=TicketOut)
async def answer_feedback(
    number: TicketNumber, body: TicketAnswer, kb: KnowledgeBaseDep, staff: EditorDep
) -> TicketOut:
    result = await run_in_session(
        kb, lambda s: answer_ticket(s, staff.username, number, body.status, body.reply)
    )
    if result is None:
        raise NotFoundError(f"no ticket {number}")
    return result
