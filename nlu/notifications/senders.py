"""The channels a notification goes out on, each behind one ``Sender`` interface.

Every sender is given the message's idempotency key, the same on every attempt, and passes it
to the provider, which drops a second message with a key it has already accepted: that is
what makes a resend after a crash harmless (``nlu.notifications.outbox``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

import httpx
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from knowledge_base.db import session_scope
from knowledge_base.models import utcnow
from knowledge_base.settings import Settings
from knowledge_base.text.normalize import fold_accents
from nlu.notifications.models import Channel, WebInboxMessage
from nlu.notifications.service import insert_ignoring_duplicates


class TemporaryFailure(Exception):
    """Worth another attempt later (provider down, throttled, timed out)."""


class PermanentFailure(Exception):
    """Will fail again however often it is tried (refused number, unknown follower)."""


class Sender(Protocol):
    async def send(self, address: str, text: str, idempotency_key: str) -> None:
        """Deliver or raise ``TemporaryFailure`` / ``PermanentFailure``; a key already
        delivered must not deliver twice."""
        ...


class ChannelAddressResolver(Protocol):
    """Turns a stored address into the provider's, at send time (a Zalo conversation id into
    the OA follower's user id, kept by the Zalo channel); None: not reachable any more.
    Blocking (it may read the database): the worker calls it from a thread."""

    def resolve(self, address: str) -> str | None: ...


# --- SMS -----------------------------------------------------------------------------------------
class HttpSmsSender:
    """An SMS gateway's JSON API: ``POST {to, text, sender, client_message_id}`` with a bearer
    token and an ``Idempotency-Key`` header. 2xx and 409 (a key it already accepted) are
    success; 429, 5xx and network errors temporary; other 4xx permanent."""

    def __init__(
        self,
        url: str,
        token: str,
        sender_name: str = "",
        timeout_s: float = 10.0,
        unaccented: bool = True,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url, self.sender_name, self.unaccented = url, sender_name, unaccented
        self._client = httpx.AsyncClient(
            timeout=timeout_s, transport=transport, headers={"authorization": f"Bearer {token}"}
        )

    async def send(self, address: str, text: str, idempotency_key: str) -> None:
        # brand-name gateways take 160 unaccented characters a part, but only 70 accented
        body = {
            "to": address,
            "text": fold_accents(text) if self.unaccented else text,
            "sender": self.sender_name,
            "client_message_id": idempotency_key,
        }
        try:
            response = await self._client.post(
                self.url, json=body, headers={"idempotency-key": idempotency_key}
            )
        except httpx.HTTPError as exc:
            raise TemporaryFailure(f"sms gateway unreachable: {type(exc).__name__}") from exc
        status = response.status_code
        if status < 300 or status == 409:
            return
        if status == 429 or status >= 500:
            raise TemporaryFailure(f"sms gateway answered {status}")
        raise PermanentFailure(f"sms gateway refused the message: {status}")

    async def aclose(self) -> None:
        await self._client.aclose()


@dataclass
class FakeSmsSender:
    """The test double (and a dry run): accepts like a real gateway, dedupes by key, and can
    be told to fail the next sends."""

    delivered: dict[str, tuple[str, str]] = field(default_factory=dict)  # key: (to, text)
    accepted: list[str] = field(default_factory=list)  # every accepted request's key
    failures: list[Exception] = field(default_factory=list)  # raised by the next sends

    async def send(self, address: str, text: str, idempotency_key: str) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.accepted.append(idempotency_key)
        self.delivered.setdefault(idempotency_key, (address, text))


# --- web widget ----------------------------------------------------------------------------------
class WebInboxSender:
    """Stores the message for the widget session; shown the next time it opens
    (``GET /api/v1/chat/{id}/notifications``). The key is unique there: a resend is a no-op."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _store(self, session_id: str, text: str, key: str) -> None:
        with session_scope(self.engine) as session:
            insert_ignoring_duplicates(
                session,
                WebInboxMessage,
                {"session_id": session_id, "idempotency_key": key, "text": text},
            )

    async def send(self, address: str, text: str, idempotency_key: str) -> None:
        await asyncio.to_thread(self._store, address, text, idempotency_key)


def unread_web_messages(session: Session, session_id: str) -> list[WebInboxMessage]:
    """The session's notifications not shown yet, oldest first; marked shown now."""
    rows = list(
        session.scalars(
            select(WebInboxMessage)
            .where(WebInboxMessage.session_id == session_id, WebInboxMessage.shown_at.is_(None))
            .order_by(WebInboxMessage.id)
        )
    )
    for row in rows:
        row.shown_at = utcnow()
    return rows


# --- Zalo OA -------------------------------------------------------------------------------------
class ZaloTextClient(Protocol):
    """What the Zalo channel's OA client offers (api/channels/zalo): False when the user
    may not receive messages (no longer a follower)."""

    async def send_text(self, user_id: str, text: str) -> bool | None: ...


class ZaloSender:
    """Zalo OA's message API takes no client message id, so this is the one channel without
    provider-side dedupe: a worker dying after Zalo accepted a message and before the row is
    marked sent sends it once more (at least once; see ``nlu.notifications.outbox``). The
    client's errors are temporary unless it raises ``PermanentFailure`` itself."""

    def __init__(self, client: ZaloTextClient) -> None:
        self.client = client

    async def send(self, address: str, text: str, idempotency_key: str) -> None:
        try:
            sent = await self.client.send_text(address, text)
        except (TemporaryFailure, PermanentFailure):
            raise
        except Exception as exc:
            raise TemporaryFailure(f"zalo: {type(exc).__name__}") from exc
        if sent is False:
            raise PermanentFailure("zalo: the user may not receive messages")


# --- wiring --------------------------------------------------------------------------------------
@dataclass
class Delivery:
    """The senders by channel, and the resolvers of stored addresses that need one."""

    senders: dict[Channel, Sender]
    resolvers: Mapping[Channel, ChannelAddressResolver] = field(default_factory=dict)

    async def aclose(self) -> None:
        for sender in self.senders.values():
            close = getattr(sender, "aclose", None)
            if close is not None:
                await close()


def build_delivery(
    settings: Settings,
    engine: Engine,
    zalo_client: ZaloTextClient | None = None,
    zalo_resolver: ChannelAddressResolver | None = None,
) -> Delivery:
    """The one place channels are wired: the web inbox always, SMS when a gateway is
    configured, Zalo when the Zalo channel hands over its OA client and its resolver."""
    senders: dict[Channel, Sender] = {Channel.WEB: WebInboxSender(engine)}
    resolvers: dict[Channel, ChannelAddressResolver] = {}
    if settings.sms_url:
        senders[Channel.SMS] = HttpSmsSender(
            settings.sms_url,
            settings.sms_token,
            settings.sms_sender,
            settings.sms_timeout_s,
            settings.sms_unaccented,
        )
    if zalo_client is not None and zalo_resolver is not None:
        senders[Channel.ZALO] = ZaloSender(zalo_client)
        resolvers[Channel.ZALO] = zalo_resolver
    return Delivery(senders, resolvers)
