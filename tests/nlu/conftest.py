"""Fixtures shared by the dialogue tests."""

from pathlib import Path

import pytest

from knowledge_base.service import KnowledgeBase
from nlu.chat import ChatService, OfflineDialogue
from tests.conftest import make_settings


@pytest.fixture
def offline_chat(database_url: str, tmp_path: Path) -> ChatService:
    """The chat service with no Rasa (degraded mode), on SQLite and on PostgreSQL."""
    kb = KnowledgeBase(make_settings(tmp_path, database_url=database_url))
    kb.warm_up()
    return ChatService(kb, kb.engine, OfflineDialogue())
