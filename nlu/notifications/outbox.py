"""The outbox worker: claims due messages, sends them, records the outcome.

A message goes ``pending → sending → sent``; a temporary failure makes it ``failed`` with a
next attempt after an exponential backoff, and after ``max_attempts`` (or at once on a
permanent failure) it is ``dead``, shown to staff, who may queue it again.

**Crash safety: at least once, deduplicated by the provider.** A worker claims rows in one
short transaction (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so workers never wait for each
other; on SQLite a compare-and-set on status and attempts), commits, sends, and records the
outcome in another transaction. Nothing can make "the provider accepted" and "the row says
sent" one atomic step, so a worker that dies between them leaves the row ``sending``. Once
its lease (``HOTLINE_NOTIFY_LEASE_S``, longer than any send may take) has run out, any worker
claims it again and sends it again *with the same idempotency key*, which the provider uses
to drop the copy: the SMS gateway by its ``client_message_id``, the web inbox by its unique
key. The citizen gets one message; the row ends ``sent``. Zalo OA takes no such key, so there
the same crash can mean one duplicate (``ZaloSender``). A row a worker keeps dying on ends
dead like one that keeps failing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, and_, or_, select, update
from sqlalchemy.orm import Session

from knowledge_base.db import session_scope
from knowledge_base.models import utcnow
from knowledge_base.settings import Settings
from nlu.notifications.models import Channel, OutboxMessage, OutboxStatus
from nlu.notifications.senders import Delivery, PermanentFailure, TemporaryFailure

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    backoff_s: float = 30.0  # before the second attempt; doubled each time
    backoff_max_s: float = 3600.0
    lease_s: float = 300.0

    @classmethod
    def of(cls, settings: Settings) -> RetryPolicy:
        return cls(
            settings.notify_max_attempts,
            settings.notify_backoff_s,
            settings.notify_backoff_max_s,
            settings.notify_lease_s,
        )

    def delay(self, attempts: int) -> timedelta:
        return timedelta(
            seconds=min(self.backoff_s * 2 ** max(attempts - 1, 0), self.backoff_max_s)
        )


@dataclass(frozen=True)
class Claim:
    id: int
    channel: Channel
    address: str
    text: str
    idempotency_key: str
    attempts: int  # this attempt's number


@dataclass
class WorkReport:
    sent: int = 0
    failed: int = 0
    dead: int = 0

    def add(self, status: OutboxStatus) -> None:
        if status is OutboxStatus.SENT:
            self.sent += 1
        elif status is OutboxStatus.FAILED:
            self.failed += 1
        elif status is OutboxStatus.DEAD:
            self.dead += 1


class OutboxWorker:
    def __init__(
        self,
        engine: Engine,
        delivery: Delivery,
        policy: RetryPolicy | None = None,
        batch: int = 20,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.engine, self.delivery, self.batch, self.clock = engine, delivery, batch, clock
        self.policy = policy or RetryPolicy()

    # --- claiming (one short transaction) --------------------------------------------------
    def claim(self, now: datetime) -> list[Claim]:
        due = or_(
            and_(
                OutboxMessage.status.in_((OutboxStatus.PENDING, OutboxStatus.FAILED)),
                OutboxMessage.next_attempt_at <= now,
            ),
            and_(
                OutboxMessage.status == OutboxStatus.SENDING,
                OutboxMessage.claimed_at <= now - timedelta(seconds=self.policy.lease_s),
            ),
        )
        query = (
            select(OutboxMessage)
            .where(due)
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(self.batch)
        )
        if self.engine.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        while True:  # until something is claimed or nothing is due
            with session_scope(self.engine) as session:
                rows = session.scalars(query).all()
                claims = [c for row in rows if (c := self._take(session, row, now)) is not None]
            if claims or not rows:
                return claims

    def _take(self, session: Session, row: OutboxMessage, now: datetime) -> Claim | None:
        """Flip the row to ``sending`` if nobody did since it was read (SQLite has no row
        locks); a row whose worker died on its last allowed attempt is dead instead."""
        exhausted = row.status is OutboxStatus.SENDING and row.attempts >= self.policy.max_attempts
        values: dict[str, object] = (
            {"status": OutboxStatus.DEAD, "last_error": "the worker stopped while sending"}
            if exhausted
            else {"status": OutboxStatus.SENDING, "claimed_at": now, "attempts": row.attempts + 1}
        )
        result = session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == row.id,
                OutboxMessage.status == row.status,
                OutboxMessage.attempts == row.attempts,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0) != 1:
            return None  # another worker took it
        if exhausted:
            logger.warning(
                "notifications.not_sent",
                extra={"message_id": row.id, "status": "dead", "error": values["last_error"]},
            )
            return None
        return Claim(
            row.id,
            Channel(row.channel),
            row.address,
            row.text,
            row.idempotency_key,
            row.attempts + 1,
        )

    # --- sending -----------------------------------------------------------------------------
    def _resolve(self, claim: Claim) -> str | None:
        resolver = self.delivery.resolvers.get(claim.channel)
        return claim.address if resolver is None else resolver.resolve(claim.address)

    async def deliver(self, claim: Claim) -> OutboxStatus:
        sender = self.delivery.senders.get(claim.channel)
        try:
            if sender is None:
                raise TemporaryFailure(f"no {claim.channel.value} sender is configured")
            address = await asyncio.to_thread(self._resolve, claim)
            if not address:
                raise PermanentFailure(f"the {claim.channel.value} address is not reachable")
            await sender.send(address, claim.text, claim.idempotency_key)
        except PermanentFailure as exc:
            return await asyncio.to_thread(self._record, claim, OutboxStatus.DEAD, str(exc))
        except Exception as exc:  # TemporaryFailure and anything unforeseen: try again later
            error = str(exc) if isinstance(exc, TemporaryFailure) else type(exc).__name__
            last = claim.attempts >= self.policy.max_attempts
            status = OutboxStatus.DEAD if last else OutboxStatus.FAILED
            return await asyncio.to_thread(self._record, claim, status, error)
        return await asyncio.to_thread(self._record, claim, OutboxStatus.SENT, "")

    def _record(self, claim: Claim, status: OutboxStatus, error: str) -> OutboxStatus:
        now = self.clock()
        values: dict[str, object] = {"status": status, "last_error": error[:300]}
        if status is OutboxStatus.SENT:
            values.update(sent_at=now, address="")  # the number is not needed any more
        elif status is OutboxStatus.FAILED:
            values["next_attempt_at"] = now + self.policy.delay(claim.attempts)
        with session_scope(self.engine) as session:
            # only while still ours: a worker that outlived its lease must not overwrite
            session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.id == claim.id,
                    OutboxMessage.status == OutboxStatus.SENDING,
                    OutboxMessage.attempts == claim.attempts,
                )
                .values(**values)
            )
        extra = {"message_id": claim.id, "channel": claim.channel.value, "attempt": claim.attempts}
        if status is OutboxStatus.SENT:
            logger.info("notifications.sent", extra=extra)
        else:
            logger.warning(
                "notifications.not_sent", extra={**extra, "status": status.value, "error": error}
            )
        return status

    # --- loops -------------------------------------------------------------------------------
    async def run_once(self) -> WorkReport:
        """Send everything due now (retries falling due later wait for the next run)."""
        report = WorkReport()
        while claims := await asyncio.to_thread(self.claim, self.clock()):
            for claim in claims:
                report.add(await self.deliver(claim))
        return report

    async def run(self, stop: asyncio.Event, poll_s: float) -> None:
        """Until ``stop`` is set; a message being sent is finished first."""
        while not stop.is_set():
            await self.run_once()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=poll_s)
