"""Two first messages racing on one new conversation id: the slower one finds the row the
faster one inserted instead of failing, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from knowledge_base.db import session_scope
from knowledge_base.service import KnowledgeBase
from nlu.chat import _opened
from nlu.models import Conversation
from tests.conftest import make_settings


def test_the_slower_of_two_first_messages_joins_the_conversation(
    database_url: str, tmp_path: Path
) -> None:
    kb = KnowledgeBase(make_settings(tmp_path, database_url=database_url))
    kb.warm_up()
    with session_scope(kb.engine) as slower:
        assert slower.get(Conversation, "race-conversation-1") is None  # it looked: not there
        with session_scope(kb.engine) as faster:  # meanwhile the other request inserts it
            faster.add(Conversation(id="race-conversation-1", channel="web"))
        joined = _opened(slower, "race-conversation-1", "web", "")
        assert joined.id == "race-conversation-1"
    with session_scope(kb.engine) as session:
        count = session.scalar(select(func.count()).where(Conversation.id == "race-conversation-1"))
        assert count == 1
