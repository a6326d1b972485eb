"""Conversation tables: transcripts, dialogue state, handoff state, dossiers, feedback tickets and ratings."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from knowledge_base.models import Base, utcnow


class ConversationState(enum.StrEnum):
    BOT = "bot"
    WAITING_HUMAN = "waiting_human"  # the citizen asked for a person; the bot stays silent


class TurnRole(enum.StrEnum):
    CITIZEN = "citizen"
    BOT = "bot"
    STAFF = "staff"


class FeedbackStatus(enum.StrEnum):
    NEW = "moi"
    IN_PROGRESS = "dang_xu_ly"
    ANSWERED = "da_tra_loi"


def _enum(cls: type[enum.StrEnum]) -> Enum:
    return Enum(cls, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])


class Conversation(Base):
    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the opaque session id
    channel: Mapped[str] = mapped_column(String(16), default="web")  # web | phone
    # a keyed hash of the client address that opened it (per-client limits inside the dialogue)
    client_key: Mapped[str | None] = mapped_column(String(32), nullable=True)
    state: Mapped[ConversationState] = mapped_column(
        _enum(ConversationState), default=ConversationState.BOT
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    __table_args__ = (Index("ix_conversations_state", "state"),)


class ChatTurn(Base):
    __tablename__ = "chat_turns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[TurnRole] = mapped_column(_enum(TurnRole))
    text: Mapped[str] = mapped_column(Text)
    intent: Mapped[str | None] = mapped_column(String(64), nullable=True)
    confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    procedure_code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    answered: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    degraded: Mapped[bool] = mapped_column(Boolean, default=False)
    latency_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    # what kind of reply a bot turn was (nlu.replies.ReplyKind): answer, choose, out_of_scope…
    reply_kind: Mapped[str | None] = mapped_column(String(24), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DialogueStateRow(Base):
    """Where a conversation stands (nlu.dialogue_state.DialogueState as JSON): the same for
    every channel, read by the Rasa actions and by degraded mode alike."""

    __tablename__ = "dialogue_states"

    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    turn: Mapped[int] = mapped_column(Integer, default=0)  # citizen turns, counted in SQL
    state: Mapped[str] = mapped_column(Text, default="{}")
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class Dossier(Base):
    """A dossier (hồ sơ) exported from the one-stop-shop system, for status look-up."""

    __tablename__ = "dossiers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    phone_last4: Mapped[str] = mapped_column(String(4))
    procedure_name: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(120))
    receiving_agency: Mapped[str] = mapped_column(Text, default="")
    received_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    due_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class FeedbackTicket(Base):
    __tablename__ = "feedback_tickets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket: Mapped[str] = mapped_column(String(24), unique=True)
    conversation_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    content: Mapped[str] = mapped_column(Text)
    contact: Mapped[str] = mapped_column(String(120), default="")
    status: Mapped[FeedbackStatus] = mapped_column(
        _enum(FeedbackStatus), default=FeedbackStatus.NEW
    )
    reply: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Rating(Base):
    __tablename__ = "ratings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(64), index=True)
    score: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class InboxDismissal(Base):
    """A group of unanswered questions staff have handled (drafted a FAQ, linked to a
    procedure, or dismissed)."""

    __tablename__ = "inbox_dismissals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    actor: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))  # dismissed | drafted | linked
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class VoiceCall(Base):
    """A phone call: its conversation (same id) holds the turns; this holds how it went."""

    __tablename__ = "voice_calls"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    transport: Mapped[str] = mapped_column(String(16))  # audiosocket | media_stream
    caller: Mapped[str] = mapped_column(String(40), default="")
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # in_progress | completed | transferred | silence | time_limit | hung_up | error
    outcome: Mapped[str] = mapped_column(String(16), default="in_progress")
    turns: Mapped[int] = mapped_column(Integer, default=0)
