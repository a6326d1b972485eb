"""Feedback and complaint tickets (phản ánh, kiến nghị) with readable numbers."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from knowledge_base.models import AuditEntry, utcnow
from nlu.models import FeedbackStatus, FeedbackTicket
from nlu.privacy import mask_text

_PHONE_RE = re.compile(r"(?:\+?84|0)(?:[\s.]?\d){9,10}")
_EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")


def contact_in(text: str) -> str:
    found = _EMAIL_RE.search(text) or _PHONE_RE.search(text)
    return re.sub(r"\s", "", found.group(0)) if found else ""


def create(session: Session, conversation_id: str | None, content: str) -> str:
    """Store the ticket and return its number, e.g. ``PA-2026-000123``. The contact the
    citizen gave for a reply is kept whole, apart; in the content it is masked like any
    other personal data."""
    ticket = FeedbackTicket(
        ticket="pending",
        conversation_id=conversation_id,
        content=mask_text(content),
        contact=contact_in(content),
    )
    session.add(ticket)
    session.flush()  # the id makes the number unique without a separate counter
    ticket.ticket = f"PA-{utcnow().year}-{ticket.id:06d}"
    return ticket.ticket


def list_tickets(session: Session, status: FeedbackStatus | None = None) -> list[FeedbackTicket]:
    query = select(FeedbackTicket).order_by(FeedbackTicket.id.desc())
    if status is not None:
        query = query.where(FeedbackTicket.status == status)
    return list(session.scalars(query))


def answer(
    session: Session, actor: str, number: str, status: FeedbackStatus, reply: str
) -> FeedbackTicket | None:
    """Record the reply sent to the citizen and move the ticket along."""
    ticket = session.scalar(select(FeedbackTicket).where(FeedbackTicket.ticket == number))
    if ticket is None:
        return None
    ticket.status, ticket.reply = status, reply
    session.add(AuditEntry(actor=actor, action="feedback", target=number, detail=status.value))
    return ticket
