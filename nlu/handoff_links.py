"""The procedure staff answered about at the handoff desk, tied to the citizen's own wording:
a training example for the ranker (``WordingLink`` with source ``handoff``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from knowledge_base.models import WordingLink
from nlu.models import ChatTurn, Conversation, TurnRole

HANDOFF_INTENT = "handoff"
MAX_QUESTIONS = 3


@dataclass
class _Asked:
    text: str
    replied: bool = False  # the bot stays silent while the citizen waits for a person
    answered: bool | None = None  # as the bot's first reply recorded it
    handed_off: bool = False  # the bot's reply was the handoff itself


def _exchanges(turns: Sequence[ChatTurn]) -> tuple[list[_Asked], int]:
    """The citizen's messages with how the bot replied, and how many came before staff first
    wrote (all of them when staff have not written yet)."""
    asked: list[_Asked] = []
    before_staff: int | None = None
    for turn in turns:
        if turn.role is TurnRole.CITIZEN:
            asked.append(_Asked(turn.text.strip()))
        elif turn.role is TurnRole.STAFF:
            before_staff = len(asked) if before_staff is None else before_staff
        elif asked:
            last = asked[-1]
            last.handed_off = last.handed_off or turn.intent == HANDOFF_INTENT
            if not last.replied:
                last.replied, last.answered = True, turn.answered
    return asked, len(asked) if before_staff is None else before_staff


def handoff_questions(turns: Sequence[ChatTurn]) -> list[str]:
    """The citizen's last question before the (latest) handoff, with the rephrasings just before
    it that the bot could not answer either. Not questions: the message that asked for a
    person, button payloads ("/handoff"), and what was said to no one while waiting."""
    asked, end = _exchanges(turns)
    handoffs = [i for i, a in enumerate(asked) if a.handed_off]
    if handoffs:
        end = handoffs[-1]
    before = [a for a in asked[:end] if a.replied and a.text and not a.text.startswith("/")]
    if not before:
        return []
    picked = [before[-1]]
    for earlier in reversed(before[:-1]):
        if earlier.answered or len(picked) >= MAX_QUESTIONS:
            break
        picked.append(earlier)
    return [a.text for a in reversed(picked)]


def link(session: Session, conversation_id: str, code: str, actor: str) -> list[str] | None:
    """Record the conversation's questions as answered with procedure ``code``; the questions
    (empty when the citizen asked none), or None for an unknown conversation."""
    if session.get(Conversation, conversation_id) is None:
        return None
    turns = session.scalars(
        select(ChatTurn).where(ChatTurn.conversation_id == conversation_id).order_by(ChatTurn.id)
    ).all()
    questions = handoff_questions(turns)
    already = set(
        session.scalars(
            select(WordingLink.question).where(
                WordingLink.conversation_id == conversation_id,
                WordingLink.procedure_code == code,
            )
        )
    )
    for question in questions:
        if question not in already:
            session.add(
                WordingLink(
                    question=question,
                    procedure_code=code,
                    source="handoff",
                    actor=actor,
                    conversation_id=conversation_id,
                )
            )
    return questions
