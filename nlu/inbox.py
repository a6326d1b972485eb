"""Unanswered-questions inbox: refused or low-confidence chat and phone turns, grouped by
wording, for staff to turn into FAQ drafts, link to a procedure, or dismiss."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from knowledge_base.models import WordingLink
from knowledge_base.text.normalize import fold_accents, normalize_text, strip_fillers
from knowledge_base.text.tokens import content_syllables
from nlu.models import ChatTurn, InboxDismissal, TurnRole

MAX_TURNS = 20_000
MAX_LINKED_WORDINGS = 10
# the kinds of bot reply that leave a question unanswered (nlu.action_turn.ReplyKind), with
# the label staff see; "unanswered" is a refusal stored before reply kinds were kept
KIND_LABELS = {
    "not_sure": "Chưa chắc thủ tục nào",
    "not_in_province": "Không có trong danh mục của tỉnh",
    "figure_missing": "Chưa có số liệu",
    "not_understood": "Chưa hiểu câu hỏi",
    "out_of_scope": "Ngoài phạm vi",
    "unanswered": "Chưa trả lời được",
}


def wording_key(question: str) -> str:
    """Questions that differ only in accents, fillers, word order or stop words share a key."""
    words = content_syllables(fold_accents(strip_fillers(normalize_text(question))))
    return " ".join(sorted(words))[:200]


@dataclass
class InboxGroup:
    key: str
    question: str  # the most recent wording
    kind: str = "unanswered"  # why the most recent wording was not answered (KIND_LABELS)
    count: int = 0
    last_seen: datetime | None = None
    wordings: list[str] = field(default_factory=list)


def _unanswered_kind(turn: ChatTurn) -> str | None:
    if turn.reply_kind in KIND_LABELS:
        return turn.reply_kind
    return "unanswered" if turn.answered is False else None


def unanswered(
    session: Session, days: int = 30, limit: int = 50, kind: str | None = None
) -> list[InboxGroup]:
    """Groups of questions left unanswered, most asked first; ``kind`` keeps one kind."""
    since = datetime.now(UTC) - timedelta(days=days)
    turns = session.scalars(
        select(ChatTurn)
        .where(ChatTurn.created_at >= since, ChatTurn.role != TurnRole.STAFF)
        .order_by(ChatTurn.conversation_id, ChatTurn.id)
        .limit(MAX_TURNS)
    ).all()
    handled = set(session.scalars(select(InboxDismissal.key)))
    groups: dict[str, InboxGroup] = {}
    last_question: dict[str, ChatTurn] = {}
    for turn in turns:
        if turn.role is TurnRole.CITIZEN:
            last_question[turn.conversation_id] = turn
            continue
        asked = last_question.pop(turn.conversation_id, None)
        why = _unanswered_kind(turn)
        if asked is None or why is None or asked.text.startswith("/"):
            continue  # answered, or a button payload rather than a question
        key = wording_key(asked.text)
        if not key or key in handled:
            continue
        group = groups.setdefault(key, InboxGroup(key, asked.text))
        group.count += 1
        if group.last_seen is None or asked.created_at >= group.last_seen:
            group.last_seen, group.question, group.kind = asked.created_at, asked.text, why
        if asked.text not in group.wordings and len(group.wordings) < 10:
            group.wordings.append(asked.text)
    kept = [g for g in groups.values() if kind is None or g.kind == kind]
    ranked = sorted(kept, key=lambda g: (-g.count, g.question))
    return ranked[:limit]


def by_key(session: Session, key: str, days: int = 30) -> InboxGroup | None:
    return next((g for g in unanswered(session, days, limit=10_000) if g.key == key), None)


def close(session: Session, key: str, actor: str, outcome: str) -> None:
    """Take a group out of the inbox (``dismissed``, ``drafted`` or ``linked``)."""
    if session.scalar(select(InboxDismissal.id).where(InboxDismissal.key == key)) is None:
        session.add(InboxDismissal(key=key, actor=actor, outcome=outcome))


def link(session: Session, key: str, code: str, actor: str) -> InboxGroup | None:
    """Tie each wording of a group to a procedure (training examples for the ranker) and take
    the group out of the inbox; None when no such group is waiting."""
    group = by_key(session, key)
    if group is None:
        return None
    for wording in group.wordings[:MAX_LINKED_WORDINGS]:
        session.add(WordingLink(question=wording, procedure_code=code, source="inbox", actor=actor))
    close(session, key, actor, "linked")
    return group
