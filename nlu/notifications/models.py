"""Tables of dossier status notifications: offers made after a look-up, citizens'
subscriptions (with their consent), the outbox the worker sends from, and the web inbox the
chat widget reads."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from knowledge_base.models import Base, utcnow


class Channel(enum.StrEnum):
    ZALO = "zalo"  # address: the conversation id, resolved to the OA follower at send time
    SMS = "sms"  # address: the phone number (personal data: never logged, erased once sent)
    WEB = "web"  # address: the chat widget's session id


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"  # claimed by a worker; past the lease, another worker takes it over
    SENT = "sent"
    FAILED = "failed"  # retried at next_attempt_at
    DEAD = "dead"  # gave up: shown to staff, who may send it again
    CANCELLED = "cancelled"  # the citizen unsubscribed before it went out


def _enum(cls: type[enum.StrEnum]) -> Enum:
    return Enum(cls, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])


# Dossiers are referred to by id: the full code is kept in the dossier registry only.
class NotificationOffer(Base):
    """The dossier a conversation just looked up successfully: a "yes" subscribes to it, so
    neither the dialogue engine nor a crafted button payload ever names a dossier."""

    __tablename__ = "notification_offers"

    conversation_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"))
    offered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Subscription(Base):
    __tablename__ = "notification_subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dossier_id: Mapped[int] = mapped_column(
        ForeignKey("dossiers.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[Channel] = mapped_column(_enum(Channel))
    address: Mapped[str] = mapped_column(String(120))
    conversation_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    consent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    __table_args__ = (
        UniqueConstraint("dossier_id", "channel", "address", name="uq_subscription_target"),
        Index("ix_notification_subscriptions_address", "channel", "address"),
    )


class OutboxMessage(Base):
    __tablename__ = "notification_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # what the provider dedupes on: the same key on every attempt of this message
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    subscription_id: Mapped[int | None] = mapped_column(
        ForeignKey("notification_subscriptions.id", ondelete="SET NULL"), nullable=True
    )
    dossier_id: Mapped[int | None] = mapped_column(
        ForeignKey("dossiers.id", ondelete="SET NULL"), nullable=True
    )
    channel: Mapped[Channel] = mapped_column(_enum(Channel))
    address: Mapped[str] = mapped_column(String(120))  # blanked once sent or cancelled
    address_hint: Mapped[str] = mapped_column(String(40), default="")  # masked, for staff
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[OutboxStatus] = mapped_column(_enum(OutboxStatus), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_error: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (Index("ix_notification_outbox_due", "status", "next_attempt_at"),)


class WebInboxMessage(Base):
    """A notification for a chat widget session, shown the next time that session opens."""

    __tablename__ = "web_inbox_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[str] = mapped_column(String(64), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    shown_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
