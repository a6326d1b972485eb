"""When a web chat is over: idle for ``HOTLINE_CHAT_SESSION_IDLE_MINUTES`` since the
citizen's last message.

The session id is the only key to a conversation's public transcript, and a kiosk's browser
tab outlives its citizen; after the idle time the public endpoint answers 410 and a new
message under the old id opens a new conversation. Staff still read the old one.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from nlu.models import ChatTurn, Conversation, TurnRole


class SessionStatus(enum.StrEnum):
    UNKNOWN = "unknown"
    ACTIVE = "active"
    EXPIRED = "expired"


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)  # SQLite


def session_status(
    session: Session, conversation_id: str, idle: timedelta, now: datetime | None = None
) -> SessionStatus:
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        return SessionStatus.UNKNOWN
    # The citizen's messages only: a staff reply to a citizen who has left must not reopen
    # the transcript for whoever sits down next.
    last = session.scalar(
        select(func.max(ChatTurn.created_at)).where(
            ChatTurn.conversation_id == conversation_id, ChatTurn.role == TurnRole.CITIZEN
        )
    )
    last = _aware(last or conversation.created_at)
    expired = (now or datetime.now(UTC)) - last > idle
    return SessionStatus.EXPIRED if expired else SessionStatus.ACTIVE
