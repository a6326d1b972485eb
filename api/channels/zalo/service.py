"""A Zalo event through the same dialogue as the web widget, and the replies back out."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from functools import partial

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from api.channels.zalo import followers, messages
from api.channels.zalo.client import ZaloOAClient
from api.channels.zalo.events import Kind, ZaloEvent
from api.channels.zalo.models import ZaloEventSeen
from api.channels.zalo.tokens import TokenStore
from api.channels.zalo.worker import Job, Workers
from api.ratelimit import RateLimitedError, RateLimiter
from api.schemas import CitizenText
from knowledge_base.db import session_scope
from nlu.chat import ChatMessage, ChatService

logger = logging.getLogger(__name__)
SEEN_KEPT = timedelta(days=2)  # far beyond the replay window
PRUNE_EVERY = timedelta(hours=1)
_CITIZEN_TEXT: TypeAdapter[str] = TypeAdapter(CitizenText)
UNREADABLE = (
    "Xin lỗi, tổng đài hiện chỉ đọc được tin nhắn chữ (tối đa 2.000 ký tự). "
    "Anh/chị vui lòng nhắn câu hỏi bằng chữ ạ."
)


def greeting(province: str) -> str:
    return (
        f"Chào mừng anh/chị đến với Tổng đài dịch vụ công {province}! Anh/chị có thể hỏi về "
        "thủ tục hành chính (hồ sơ cần gì, lệ phí, thời hạn, nộp ở đâu), tra cứu tình trạng "
        "hồ sơ, gửi phản ánh, kiến nghị hoặc nhắn «gặp nhân viên» để được tổng đài viên hỗ trợ."
    )


class ZaloChannel:
    def __init__(self, chat: ChatService, limiter: RateLimiter) -> None:
        settings = chat.kb.settings
        self.settings, self.chat, self.limiter = settings, chat, limiter
        self.engine = chat.engine
        self._secret = settings.secret_key
        self.tokens = TokenStore(self.engine, settings)
        self.client = ZaloOAClient(settings, self.tokens, self._may_send)
        self.workers = Workers(settings.zalo_workers, settings.zalo_queue_size)
        self._pruned_at = datetime.min.replace(tzinfo=UTC)

    async def start(self) -> None:
        self.workers.start()

    async def stop(self) -> None:
        await self.workers.stop()
        await self.client.aclose()

    # --- the webhook's side ---------------------------------------------------------------
    async def accept(self, event: ZaloEvent) -> bool | None:
        """Queue the event once: True when queued, None for one already received, False when
        the queue is full (it is then not marked received, so a redelivery is taken)."""
        if not await run_in_threadpool(self._claim, event.key):
            return None
        job = Job(event.kind.value, partial(self._process, event))
        if self.workers.submit(event.user_id, job):
            return True
        await run_in_threadpool(self._release, event.key)
        return False

    def _claim(self, key: str) -> bool:
        now = datetime.now(UTC)
        try:
            with session_scope(self.engine) as session:
                if now - self._pruned_at > PRUNE_EVERY:
                    self._pruned_at = now
                    session.execute(
                        delete(ZaloEventSeen).where(ZaloEventSeen.received_at < now - SEEN_KEPT)
                    )
                session.add(ZaloEventSeen(key=key, received_at=now))
        except IntegrityError:
            return False
        return True

    def _release(self, key: str) -> None:
        with session_scope(self.engine) as session:
            session.execute(delete(ZaloEventSeen).where(ZaloEventSeen.key == key))

    # --- background jobs --------------------------------------------------------------------
    async def _process(self, event: ZaloEvent) -> None:
        user = event.user_id
        if event.kind is Kind.FOLLOW:
            await run_in_threadpool(followers.follow, self.engine, user, self._secret)
            await self.client.send_text(user, greeting(self.settings.province_name))
        elif event.kind is Kind.UNFOLLOW:
            await run_in_threadpool(followers.unfollow, self.engine, user, self._secret)
        elif event.kind is Kind.TEXT:
            await self._turn(user, event.text)
        elif event.kind is Kind.UNREADABLE:
            await run_in_threadpool(followers.follow, self.engine, user, self._secret)
            await self.client.send_text(user, UNREADABLE)
        logger.info("zalo.event", extra={"kind": event.kind.value, "event_name": event.name})

    async def _turn(self, user: str, typed: str) -> None:
        key = followers.user_key(user, self._secret)
        try:
            await self.limiter.hit("chat", "zalo", key)
        except RateLimitedError:
            logger.warning("zalo.rate_limited", extra={"user_key": key})
            return
        try:
            text = _CITIZEN_TEXT.validate_python(typed)
        except ValidationError:
            text = ""
        if not text:
            await run_in_threadpool(followers.follow, self.engine, user, self._secret)
            await self.client.send_text(user, UNREADABLE)
            return
        idle = timedelta(minutes=self.settings.chat_session_idle_minutes)
        turn = await run_in_threadpool(
            followers.open_turn, self.engine, user, text, self._secret, idle
        )
        reply = await self.chat.handle(
            turn.conversation_id, turn.text, channel=followers.CHANNEL, client=key
        )
        await self._send(user, reply.messages)

    async def _send(self, user: str, replies: list[ChatMessage]) -> None:
        for reply in replies:
            plan = messages.plan(reply)
            if plan.choices:
                await run_in_threadpool(
                    followers.remember_choices, self.engine, user, plan.choices, self._secret
                )
            for message in plan.messages:
                if not await self.client.send(user, message):
                    return

    async def _may_send(self, user: str) -> bool:
        return await run_in_threadpool(followers.may_send, self.engine, user, self._secret)

    # --- staff replies from the handoff desk ------------------------------------------------
    async def deliver_staff_reply(self, conversation_id: str, text: str) -> None:
        user = await run_in_threadpool(followers.recipient_of, self.engine, conversation_id)
        if user is None:
            logger.info("zalo.staff_reply_not_sent", extra={"reason": "inactive"})
            return
        job = Job("staff_reply", partial(self._send, user, [ChatMessage(text)]))
        if not self.workers.submit(user, job):
            logger.error("zalo.staff_reply_not_sent", extra={"reason": "queue full"})
