"""Retention of personal data: after ``HOTLINE_RETENTION_DAYS`` the words of chat and phone
turns are erased (the rows stay, so the dashboard's counts and rates still add up), callers'
numbers are blanked, Rasa's tracker events are deleted, and so are older notification
subscriptions, offers and widget news (``nlu.notifications.service.erase_expired``).
Feedback tickets are official records with their own retention and are not touched."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import CursorResult, Engine, column, delete, inspect, table, update

from knowledge_base.db import session_scope
from nlu.models import ChatTurn, VoiceCall
from nlu.notifications.service import erase_expired

ERASED = "[đã xóa theo thời hạn lưu trữ]"
RASA_EVENTS_TABLE = "events"  # Rasa's SQL tracker store, in the same database
RASA_EVENTS = table(RASA_EVENTS_TABLE, column("timestamp"))  # seconds since the epoch


@dataclass(frozen=True)
class RetentionReport:
    cutoff: datetime
    turns_erased: int
    callers_blanked: int
    tracker_events_deleted: int
    notification_records_erased: int = 0


def _count(result: object) -> int:
    return result.rowcount if isinstance(result, CursorResult) else 0


def run_retention(engine: Engine, days: int, now: datetime | None = None) -> RetentionReport:
    if days < 1:
        raise ValueError("retention must keep at least one day")
    cutoff = (now or datetime.now(UTC)) - timedelta(days=days)
    with session_scope(engine) as session:
        turns = session.execute(
            update(ChatTurn)
            .where(ChatTurn.created_at < cutoff, ChatTurn.text != ERASED)
            .values(text=ERASED)
        )
        calls = session.execute(
            update(VoiceCall)
            .where(VoiceCall.started_at < cutoff, VoiceCall.caller != "")
            .values(caller="")
        )
        events = 0
        if inspect(session.connection()).has_table(RASA_EVENTS_TABLE):
            events = _count(
                session.execute(
                    delete(RASA_EVENTS).where(RASA_EVENTS.c.timestamp < cutoff.timestamp())
                )
            )
        notifications = erase_expired(session, cutoff)
    return RetentionReport(cutoff, _count(turns), _count(calls), events, notifications)
