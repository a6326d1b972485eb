"""Who the OA may write to, and which conversation a Zalo user is in (blocking: call these
from worker threads).

A user is known by ``user_key``, a keyed hash of the Zalo user id (the conversation's
``client_key``: per-client limits in the dialogue count by it). The id itself is needed in
clear to send and is erased on unfollow. Following or writing makes a user ``active``;
unfollowing ends every message to them (staff replies included) until they write or follow
again.

A conversation id is derived from the user id and a conversation number; like a web chat, a
conversation idle for ``HOTLINE_CHAT_SESSION_IDLE_MINUTES`` is over and the next message
opens the next number (a handoff nobody answered does not silence the bot for good).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.channels.zalo.models import ZaloFollower
from api.ratelimit import client_hash
from knowledge_base.db import session_scope
from nlu.chat_sessions import SessionStatus, session_status
from nlu.models import Conversation

CHANNEL = "zalo"
_NUMBER_RE = re.compile(r"^\s*(?:số\s*)?(\d{1,2})\s*$", re.IGNORECASE)


def user_key(user_id: str, secret: str) -> str:
    return client_hash(f"zalo:{user_id}", secret)


def conversation_id(user_id: str, number: int, secret: str) -> str:
    return "zalo-" + client_hash(f"zalo:{user_id}:{number}", secret)


@dataclass(frozen=True)
class Turn:
    conversation_id: str
    text: str  # what the citizen typed, or the payload of the option whose number they typed


def _row(session: Session, key: str, user_id: str) -> ZaloFollower:
    """The user's row, locked (PostgreSQL) so that one user's turns open one conversation."""
    row = session.get(ZaloFollower, key, with_for_update=True)
    if row is None:
        try:
            with session.begin_nested():
                row = ZaloFollower(user_key=key, user_id=user_id, active=True, session_no=0)
                session.add(row)
        except IntegrityError:  # the same user's other event on another replica
            row = session.get(ZaloFollower, key, with_for_update=True, populate_existing=True)
            assert row is not None
    row.user_id, row.active = user_id, True
    return row


def follow(engine: Engine, user_id: str, secret: str) -> None:
    with session_scope(engine) as session:
        _row(session, user_key(user_id, secret), user_id)


def unfollow(engine: Engine, user_id: str, secret: str) -> None:
    with session_scope(engine) as session:
        row = session.get(ZaloFollower, user_key(user_id, secret), with_for_update=True)
        if row is not None:
            row.active, row.user_id, row.choices = False, None, None


def open_turn(engine: Engine, user_id: str, text: str, secret: str, idle: timedelta) -> Turn:
    """The conversation this message belongs to, and the message with a typed number read
    against the options last listed by number."""
    with session_scope(engine) as session:
        row = _row(session, user_key(user_id, secret), user_id)
        if row.conversation_id is None:
            row.conversation_id = conversation_id(user_id, row.session_no, secret)
        elif session_status(session, row.conversation_id, idle) is SessionStatus.EXPIRED:
            row.session_no += 1
            row.conversation_id = conversation_id(user_id, row.session_no, secret)
        choices, row.choices = row.choices, None
        number = _NUMBER_RE.match(text)
        if choices and number and 1 <= int(number.group(1)) <= len(choices):
            text = choices[int(number.group(1)) - 1]
        return Turn(row.conversation_id, text)


def remember_choices(engine: Engine, user_id: str, payloads: list[str], secret: str) -> None:
    with session_scope(engine) as session:
        row = session.get(ZaloFollower, user_key(user_id, secret))
        if row is not None and row.active:
            row.choices = payloads


def may_send(engine: Engine, user_id: str, secret: str) -> bool:
    with session_scope(engine) as session:
        row = session.get(ZaloFollower, user_key(user_id, secret))
        return row is not None and row.active and row.user_id == user_id


def recipient_of(engine: Engine, conversation: str) -> str | None:
    """The Zalo user id behind a conversation, while they may receive messages."""
    with session_scope(engine) as session:
        return session.scalar(
            select(ZaloFollower.user_id)
            .join(Conversation, Conversation.client_key == ZaloFollower.user_key)
            .where(
                Conversation.id == conversation,
                Conversation.channel == CHANNEL,
                ZaloFollower.active.is_(True),
            )
        )
