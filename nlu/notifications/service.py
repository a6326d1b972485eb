"""Subscriptions, the outbox and what staff see of it: every write to these tables goes
through here (the phone line's "send me the answer by SMS" included, ``enqueue_message``)."""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, CursorResult, Engine, and_, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from knowledge_base.db import session_scope
from knowledge_base.models import AuditEntry, utcnow
from knowledge_base.settings import Settings
from nlu import privacy
from nlu.models import Dossier
from nlu.notifications.models import (
    Channel,
    NotificationOffer,
    OutboxMessage,
    OutboxStatus,
    Subscription,
    WebInboxMessage,
)

MAX_TEXT_CHARS = 1600  # ten SMS parts without accents
MAX_KEY_CHARS = 128
RETRYABLE = (OutboxStatus.FAILED, OutboxStatus.DEAD)
QUEUED = (OutboxStatus.PENDING, OutboxStatus.FAILED)


def idempotency_key(*parts: object) -> str:
    """A fixed-length key that names no dossier or number (providers see it)."""
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()


def normalize_phone(text: str) -> str | None:
    """A Vietnamese number as 0xxxxxxxxx, from a caller id (+84…, 84…) or typed digits."""
    digits = re.sub(r"\D", "", text)
    if digits.startswith("84") and len(digits) in (11, 12):
        digits = "0" + digits[2:]
    return digits if digits.startswith("0") and len(digits) in (10, 11) else None


def address_hint(channel: Channel, address: str) -> str:
    """What staff are shown of an address: a number's last digits, a session id's tail."""
    if channel is Channel.SMS:
        return "*" * max(len(address) - 4, 0) + address[-4:]
    return "…" + address[-4:]


def _shortened(text: str) -> str:
    if len(text) <= MAX_TEXT_CHARS:
        return text
    return text[: MAX_TEXT_CHARS - 1].rsplit(" ", 1)[0] + "…"


def insert_ignoring_duplicates(session: Session, model: Any, values: Mapping[str, Any]) -> bool:
    """INSERT … ON CONFLICT DO NOTHING (on the table's unique key); True when inserted."""
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(model).values(**values).on_conflict_do_nothing().returning(model.id)
    return session.execute(statement).first() is not None


def enqueue_message(
    session: Session,
    channel: Channel | str,
    address: str,
    text: str,
    idempotency_key: str,
    *,
    subscription_id: int | None = None,
    dossier_id: int | None = None,
    now: datetime | None = None,
) -> bool:
    """Queue one message for the worker; False when one with this key is already queued
    (or sent), so callers may enqueue again safely. The key is what the provider dedupes
    on: derive it from what makes the message unique (e.g. the call id and the answer)."""
    channel = Channel(channel)
    if channel is Channel.SMS:
        address = normalize_phone(address) or ""
    if not address or not text.strip():
        raise ValueError("a message needs an address (for SMS a Vietnamese number) and a text")
    if not 0 < len(idempotency_key) <= MAX_KEY_CHARS:
        raise ValueError(f"the idempotency key must have 1 to {MAX_KEY_CHARS} characters")
    moment = now or utcnow()
    return insert_ignoring_duplicates(
        session,
        OutboxMessage,
        {
            "idempotency_key": idempotency_key,
            "subscription_id": subscription_id,
            "dossier_id": dossier_id,
            "channel": channel,
            "address": address,
            "address_hint": address_hint(channel, address),
            "text": _shortened(text.strip()),
            "status": OutboxStatus.PENDING,
            "attempts": 0,
            "next_attempt_at": moment,
            "last_error": "",
            "created_at": moment,
        },
    )


class SmsOutbox:
    """The phone line's ``MessageOutbox`` (voice/outbound.py): an answer by SMS to the
    caller goes through this outbox, with its retries and the provider's dedupe."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine, self.enabled = engine, bool(settings.sms_url)

    def _enqueue(self, number: str, text: str, idempotency_key: str) -> bool:
        with session_scope(self.engine) as session:
            enqueue_message(session, Channel.SMS, number, text, idempotency_key)
        return True

    async def send_sms(self, number: str, text: str, idempotency_key: str) -> bool:
        """True once queued (also when this key already was); False when SMS is not
        configured or the number is not a Vietnamese one."""
        if not self.enabled:
            return False
        try:
            return await asyncio.to_thread(self._enqueue, number, text, idempotency_key)
        except ValueError:
            return False


# --- offers and subscriptions --------------------------------------------------------------
def record_offer(
    session: Session, conversation_id: str, dossier_id: int, now: datetime | None = None
) -> None:
    offer = session.get(NotificationOffer, conversation_id)
    if offer is None:
        offer = NotificationOffer(conversation_id=conversation_id)
        session.add(offer)
    offer.dossier_id, offer.offered_at = dossier_id, now or utcnow()


def offered_dossier(
    session: Session, conversation_id: str, max_age: timedelta, now: datetime | None = None
) -> int | None:
    """The dossier (its id) offered to this conversation within ``max_age``, if any."""
    offer = session.get(NotificationOffer, conversation_id)
    if offer is None:
        return None
    moment = now or utcnow()
    offered_at = offer.offered_at
    if offered_at.tzinfo is None:  # SQLite
        offered_at = offered_at.replace(tzinfo=moment.tzinfo)
    return offer.dossier_id if moment - offered_at <= max_age else None


def forget_offer(session: Session, conversation_id: str) -> bool:
    offer = session.get(NotificationOffer, conversation_id)
    if offer is not None:
        session.delete(offer)
    return offer is not None


def subscribe(
    session: Session,
    dossier_id: int,
    channel: Channel,
    address: str,
    conversation_id: str | None,
    now: datetime | None = None,
) -> Subscription:
    """Active from now on (consent recorded now), also when once cancelled."""
    found = session.scalar(
        select(Subscription).where(
            Subscription.dossier_id == dossier_id,
            Subscription.channel == channel,
            Subscription.address == address,
        )
    )
    if found is None:
        found = Subscription(dossier_id=dossier_id, channel=channel, address=address)
        session.add(found)
    found.conversation_id = conversation_id
    found.consent_at, found.active, found.cancelled_at = now or utcnow(), True, None
    session.flush()
    return found


def active_subscriptions(
    session: Session,
    targets: Collection[tuple[Channel, str]] = (),
    conversation_id: str | None = None,
    subscription_id: int | None = None,
) -> list[Subscription]:
    """Active subscriptions to these channel addresses, or consented to in this
    conversation, or the one named."""
    conditions: list[ColumnElement[bool]] = [
        and_(Subscription.channel == channel, Subscription.address == address)
        for channel, address in targets
    ]
    if conversation_id:
        conditions.append(Subscription.conversation_id == conversation_id)
    if subscription_id is not None:
        conditions.append(Subscription.id == subscription_id)
    if not conditions:
        return []
    return list(session.scalars(select(Subscription).where(Subscription.active, or_(*conditions))))


def cancel(
    session: Session,
    targets: Collection[tuple[Channel, str]] = (),
    conversation_id: str | None = None,
    subscription_id: int | None = None,
    now: datetime | None = None,
) -> int:
    """End the ``active_subscriptions`` named; their queued messages are not sent. Returns
    how many ended."""
    ids = [s.id for s in active_subscriptions(session, targets, conversation_id, subscription_id)]
    if not ids:
        return 0
    session.execute(
        update(Subscription)
        .where(Subscription.id.in_(ids))
        .values(active=False, cancelled_at=now or utcnow())
    )
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.subscription_id.in_(ids), OutboxMessage.status.in_(QUEUED))
        .values(status=OutboxStatus.CANCELLED, address="")
    )
    return len(ids)


# --- status changes --------------------------------------------------------------------------
def status_message(settings: Settings, dossier: Dossier, channel: Channel) -> str:
    due = dossier.due_on.strftime("%d/%m/%Y") if dossier.due_on else "chưa có"
    name = f" ({dossier.procedure_name})" if dossier.procedure_name else ""
    text = (
        f"Tổng đài dịch vụ công {settings.province_name}: hồ sơ có mã kết thúc bằng "
        f'{dossier.code[-4:]}{name} đã chuyển sang trạng thái "{dossier.status}". '
        f"Ngày hẹn trả kết quả: {due}."
    )
    if channel is Channel.SMS:
        return f'{text} Để ngừng nhận tin, gọi {settings.hotline_phone} và nói "hủy thông báo".'
    return f'{text} Nhắn "hủy thông báo" để ngừng nhận tin.'


def enqueue_status_change(
    session: Session, settings: Settings, dossier: Dossier, now: datetime | None = None
) -> int:
    """One message per active subscription to the dossier, for its current status and result
    date; what was enqueued before for the same state is not enqueued again."""
    due = dossier.due_on.isoformat() if dossier.due_on else ""
    queued = 0
    for sub in session.scalars(
        select(Subscription).where(Subscription.dossier_id == dossier.id, Subscription.active)
    ):
        key = idempotency_key("status", dossier.code, dossier.status, due, sub.id)
        text = status_message(settings, dossier, sub.channel)
        queued += enqueue_message(
            session,
            sub.channel,
            sub.address,
            text,
            key,
            subscription_id=sub.id,
            dossier_id=dossier.id,
            now=now,
        )
    return queued


# --- what staff see ------------------------------------------------------------------------
@dataclass(frozen=True)
class OutboxView:
    id: int
    channel: str
    address_hint: str
    dossier_hint: str
    text: str
    status: str
    attempts: int
    next_attempt_at: datetime
    sent_at: datetime | None
    last_error: str
    created_at: datetime
    subscribed: bool  # an active subscription staff may end

    @property
    def retryable(self) -> bool:
        return self.status in RETRYABLE


def counts(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    ).all()
    found = {OutboxStatus(status).value: int(n) for status, n in rows}
    return {s.value: found.get(s.value, 0) for s in OutboxStatus}


def list_messages(
    session: Session,
    status: OutboxStatus | None = None,
    limit: int = 100,
    message_id: int | None = None,
) -> list[OutboxView]:
    """Newest first; or the one message named."""
    query = (
        select(OutboxMessage, Subscription.active, Dossier.code)
        .outerjoin(Subscription, Subscription.id == OutboxMessage.subscription_id)
        .outerjoin(Dossier, Dossier.id == OutboxMessage.dossier_id)
        .order_by(OutboxMessage.id.desc())
        .limit(limit)
    )
    if status is not None:
        query = query.where(OutboxMessage.status == status)
    if message_id is not None:
        query = query.where(OutboxMessage.id == message_id)
    return [
        OutboxView(
            id=m.id,
            channel=Channel(m.channel).value,
            address_hint=m.address_hint,
            dossier_hint=privacy.masked_dossier_code(code) if code else "",
            text=m.text,
            status=OutboxStatus(m.status).value,
            attempts=m.attempts,
            next_attempt_at=m.next_attempt_at,
            sent_at=m.sent_at,
            last_error=m.last_error,
            created_at=m.created_at,
            subscribed=bool(active),
        )
        for m, active, code in session.execute(query).all()
    ]


def retry(session: Session, message_id: int, actor: str, now: datetime | None = None) -> bool:
    """Queue a failed or dead message again, with fresh attempts and the same key (the
    provider still dedupes it). False when there is no such message to retry."""
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.status.in_(RETRYABLE))
        .values(status=OutboxStatus.PENDING, attempts=0, next_attempt_at=now or utcnow())
    )
    if getattr(result, "rowcount", 0) != 1:
        return False
    session.add(AuditEntry(actor=actor, action="notification.retry", target=f"outbox:{message_id}"))
    return True


def unsubscribe_message(
    session: Session, message_id: int, actor: str, now: datetime | None = None
) -> bool:
    """Staff end the subscription a message was sent for (the citizen asked them to)."""
    message = session.get(OutboxMessage, message_id)
    if message is None or message.subscription_id is None:
        return False
    if not cancel(session, subscription_id=message.subscription_id, now=now):
        return False
    target = f"subscription:{message.subscription_id}"
    session.add(AuditEntry(actor=actor, action="notification.unsubscribe", target=target))
    return True


def erase_expired(session: Session, cutoff: datetime) -> int:
    """Retention (``hotline retention run``): subscriptions consented to or cancelled before
    the cutoff go (a subscription lasts at most the retention period), with old offers and
    widget news; old messages keep no address. Returns the rows touched."""
    statements = (
        delete(Subscription).where(
            or_(Subscription.consent_at < cutoff, Subscription.cancelled_at < cutoff)
        ),
        update(OutboxMessage)
        .where(OutboxMessage.created_at < cutoff, OutboxMessage.address != "")
        .values(address=""),
        delete(WebInboxMessage).where(WebInboxMessage.created_at < cutoff),
        delete(NotificationOffer).where(NotificationOffer.offered_at < cutoff),
    )
    touched = 0
    for statement in statements:
        result = session.execute(statement.execution_options(synchronize_session=False))
        touched += result.rowcount if isinstance(result, CursorResult) else 0
    return touched
