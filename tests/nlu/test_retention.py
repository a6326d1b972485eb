"""Retention: turns older than the period lose their words (the rows and their statistics
stay), callers' numbers are blanked, Rasa's old tracker events are deleted; newer ones are
untouched, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Column, Float, Integer, MetaData, String, Table, func, select

from knowledge_base.db import session_scope
from knowledge_base.service import KnowledgeBase
from nlu.models import ChatTurn, Conversation, TurnRole, VoiceCall
from nlu.retention import ERASED, run_retention
from tests.conftest import make_settings

NOW = datetime(2026, 12, 3, tzinfo=UTC)


def test_old_words_are_erased_and_new_ones_kept(database_url: str, tmp_path: Path) -> None:
    kb = KnowledgeBase(make_settings(tmp_path, database_url=database_url))
    kb.warm_up()
    events = Table(
        "events",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("sender_id", String(255)),
        Column("timestamp", Float),
    )
    events.drop(kb.engine, checkfirst=True)
    events.create(kb.engine)
    old, new = NOW - timedelta(days=200), NOW - timedelta(days=2)
    with session_scope(kb.engine) as session:
        for name, moment in (("old-conversation-1", old), ("new-conversation-1", new)):
            session.add(Conversation(id=name, created_at=moment, updated_at=moment))
            session.flush()
            session.add(
                ChatTurn(
                    conversation_id=name,
                    role=TurnRole.CITIZEN,
                    text="số tôi 0912345678",
                    answered=True,
                    created_at=moment,
                )
            )
            session.add(
                VoiceCall(id=name, transport="audiosocket", caller="0912345678", started_at=moment)
            )
            session.execute(events.insert().values(sender_id=name, timestamp=moment.timestamp()))
    report = run_retention(kb.engine, 180, NOW)
    assert (report.turns_erased, report.callers_blanked, report.tracker_events_deleted) == (1, 1, 1)
    with session_scope(kb.engine) as session:
        texts = dict(session.execute(select(ChatTurn.conversation_id, ChatTurn.text)).all())
        assert texts == {"old-conversation-1": ERASED, "new-conversation-1": "số tôi 0912345678"}
        callers = dict(session.execute(select(VoiceCall.id, VoiceCall.caller)).all())
        assert callers == {"old-conversation-1": "", "new-conversation-1": "0912345678"}
        assert session.scalar(select(func.count()).select_from(events)) == 1
        assert session.scalar(select(func.count()).select_from(ChatTurn)) == 2  # rows kept
    again = run_retention(kb.engine, 180, NOW)
    assert (again.turns_erased, again.callers_blanked, again.tracker_events_deleted) == (0, 0, 0)
    events.drop(kb.engine)
    with pytest.raises(ValueError):
        run_retention(kb.engine, 0, NOW)
