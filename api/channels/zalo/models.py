"""Zalo channel tables: the OA's tokens, the citizens who write to or follow the OA, and the
events already received (idempotency across replicas)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from knowledge_base.models import Base, utcnow


class ZaloToken(Base):
    """One row per app: the access token and the single-use refresh token that replaces it.
    Shared by every replica; refreshed under a row lock (``tokens.TokenStore``)."""

    __tablename__ = "zalo_tokens"

    app_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    access_token: Mapped[str] = mapped_column(Text, default="")
    refresh_token: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # sha256 of the configured bootstrap token the chain started from
    seed_hash: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class ZaloFollower(Base):
    """A Zalo user of the OA, keyed by a keyed hash of the user id. The id itself is kept in
    clear only while it may be written to (sending needs it) and erased on unfollow."""

    __tablename__ = "zalo_followers"

    user_key: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # conversation number n: its id is derived from the user id and n (``followers``)
    session_no: Mapped[int] = mapped_column(Integer, default=0)
    conversation_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # payloads of options listed by number (more than Zalo's buttons), for a typed "2"
    choices: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class ZaloEventSeen(Base):
    """A webhook event already accepted: sha256 of its message id (or of its body)."""

    __tablename__ = "zalo_events"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )
