"""A dossier-notification setup for tests: the action server, the sample dossiers, three
conversations (web widget, Zalo, phone call with a caller id) and fake providers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from knowledge_base.db import migrate, session_scope
from knowledge_base.models import utcnow
from knowledge_base.service import KnowledgeBase
from knowledge_base.settings import Settings
from nlu.actions import ActionServer
from nlu.dossiers import CSV_COLUMNS, MemoryAttemptLimiter, load_sample_if_empty
from nlu.models import Conversation, VoiceCall
from nlu.notifications.models import Channel, OutboxMessage, WebInboxMessage
from nlu.notifications.outbox import OutboxWorker, RetryPolicy
from nlu.notifications.senders import (
    Delivery,
    FakeSmsSender,
    Sender,
    WebInboxSender,
    ZaloSender,
)
from nlu.notifications.sync import CsvFolderSource, SyncReport, sync_dossiers
from nlu.raw_values import MemoryRawValues
from tests.conftest import make_settings

CODE = "000.00.12.H55-240315-0042"  # a sample dossier "Đang giải quyết", phone ending 1234
LAST4 = "1234"
WEB, ZALO, PHONE = "web-session-0001", "zalo-3f2a9c7b", "call-0001"
CALLER = "+84 912 345 678"
NUMBER = "0912345678"
ZALO_USER = "zalo-user-42"


@dataclass
class Clock:
    """The real time, moved on by ``advance`` (a second ahead: rows just queued are due)."""

    offset: timedelta = timedelta(seconds=1)

    def __call__(self) -> datetime:
        return utcnow() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


class FakeZaloClient:
    """Like the OA client: no client message id, so no dedupe."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def send_text(self, user_id: str, text: str) -> bool:
        self.sent.append((user_id, text))
        return True


class FollowerResolver:
    """The Zalo channel's follower table, reduced to a dict."""

    def __init__(self, users: dict[str, str]) -> None:
        self.users = users

    def resolve(self, address: str) -> str | None:
        return self.users.get(address)


def request(action: str, sender: str, text: str = "", **tracker: Any) -> dict[str, Any]:
    intent = tracker.pop("intent", "")
    return {
        "next_action": action,
        "sender_id": sender,
        "tracker": {
            "sender_id": sender,
            "slots": tracker.pop("slots", {}),
            "latest_message": {"text": text, "intent": {"name": intent, "confidence": 0.99}},
        },
    }


@dataclass
class Stack:
    settings: Settings
    engine: Engine
    actions: ActionServer
    raw_values: MemoryRawValues
    folder: Path
    sms: FakeSmsSender = field(default_factory=FakeSmsSender)
    zalo: FakeZaloClient = field(default_factory=FakeZaloClient)
    clock: Clock = field(default_factory=Clock)

    def delivery(self, **replace: Sender) -> Delivery:
        senders: dict[Channel, Sender] = {
            Channel.SMS: self.sms,
            Channel.WEB: WebInboxSender(self.engine),
            Channel.ZALO: ZaloSender(self.zalo),
        }
        senders.update({Channel(k): v for k, v in replace.items()})
        return Delivery(senders, {Channel.ZALO: FollowerResolver({ZALO: ZALO_USER})})

    def worker(self, policy: RetryPolicy | None = None, **replace: Sender) -> OutboxWorker:
        return OutboxWorker(self.engine, self.delivery(**replace), policy, clock=self.clock)

    def run(self, action: str, sender: str, text: str = "", **tracker: Any) -> dict[str, Any]:
        return self.actions.run(request(action, sender, text, **tracker))

    def look_up(self, sender: str) -> dict[str, Any]:
        slots = {"dossier_code": CODE, "phone_last4": LAST4}
        return self.run("action_check_dossier", sender, "x", slots=slots)

    def subscribe(self, sender: str, text: str = "/subscribe_notifications") -> str:
        result = self.run(
            "action_subscribe_notifications", sender, text, intent="subscribe_notifications"
        )
        return str(result["responses"][0]["text"])

    def cancel(self, sender: str, text: str = "hủy thông báo") -> str:
        result = self.run("action_cancel_notifications", sender, text)
        return str(result["responses"][0]["text"])

    def sync(self, status: str, due: str = "2024-03-25", name: str = "export.csv") -> SyncReport:
        row = [CODE, "0987001234", "Cấp phiếu lý lịch tư pháp", status, "Sở Tư pháp"]
        line = ",".join([*row, "2024-03-15", due])
        text = ",".join(CSV_COLUMNS) + "\n" + line + "\n"
        (self.folder / name).write_text(text, encoding="utf-8")
        with session_scope(self.engine) as session:
            return sync_dossiers(session, self.settings, CsvFolderSource(self.folder))

    def outbox(self) -> list[OutboxMessage]:
        with session_scope(self.engine) as session:
            rows = list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
            session.expunge_all()
            return rows

    def web_inbox(self, session_id: str = WEB) -> int:
        with session_scope(self.engine) as session:
            query = select(func.count()).where(WebInboxMessage.session_id == session_id)
            return int(session.scalar(query.select_from(WebInboxMessage)) or 0)


def build_stack(tmp_path: Path, database_url: str, **settings: object) -> Iterator[Stack]:
    values: dict[str, object] = {
        "database_url": database_url,
        "sms_url": "http://sms.test/send",
        "sms_token": "sms-token-0123456789",
        **settings,
    }
    config = make_settings(tmp_path, **values)
    kb = KnowledgeBase(config)
    engine = kb.engine
    migrate(engine)
    with session_scope(engine) as session:
        load_sample_if_empty(session)
        session.add(Conversation(id=WEB, channel="web"))
        session.add(Conversation(id=ZALO, channel="zalo"))
        session.add(Conversation(id=PHONE, channel="phone"))
        session.add(VoiceCall(id=PHONE, transport="audiosocket", caller=CALLER))
    raw_values = MemoryRawValues(1800)
    actions = ActionServer(kb, engine, MemoryAttemptLimiter(), raw_values)
    folder = tmp_path / "exports"
    folder.mkdir()
    try:
        yield Stack(config, engine, actions, raw_values, folder)
    finally:
        engine.dispose()
