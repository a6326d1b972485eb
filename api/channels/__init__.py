"""Messaging channels other than the web widget, and the delivery of staff replies to them.

The widget polls for staff replies; a channel that pushes (Zalo) registers a deliverer here,
which the handoff desk calls once a staff reply is stored."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from sqlalchemy import Engine, select
from starlette.concurrency import run_in_threadpool

from knowledge_base.db import session_scope
from nlu.models import Conversation

logger = logging.getLogger(__name__)
Deliver = Callable[[str, str], Awaitable[None]]  # (conversation id, staff text)


class ChannelReplies:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._deliverers: dict[str, Deliver] = {}

    def register(self, channel: str, deliver: Deliver) -> None:
        self._deliverers[channel] = deliver

    async def staff_reply(self, conversation_id: str, text: str) -> None:
        """Pass a stored staff reply on to the conversation's channel, if that one pushes."""
        if not self._deliverers:
            return
        channel = await run_in_threadpool(self._channel_of, conversation_id)
        deliver = self._deliverers.get(channel or "")
        if deliver is not None:
            await deliver(conversation_id, text)

    def _channel_of(self, conversation_id: str) -> str | None:
        with session_scope(self._engine) as session:
            return session.scalar(
                select(Conversation.channel).where(Conversation.id == conversation_id)
            )
