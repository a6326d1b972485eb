"""Staff accounts for the admin API and the staff site tests."""

from __future__ import annotations

from pathlib import Path

from api.auth.models import Role
from api.auth.service import create_user
from knowledge_base.db import session_scope
from knowledge_base.service import KnowledgeBase
from tests.conftest import make_settings

PASSWORD = "correct-horse-battery"
STAFF_ACCOUNTS = [("editor1", Role.EDITOR), ("reviewer1", Role.REVIEWER), ("admin1", Role.ADMIN)]


def staffed_kb(tmp_path: Path, **settings: object) -> KnowledgeBase:
    """A warmed-up knowledge base with one editor, one reviewer and one admin."""
    kb = KnowledgeBase(make_settings(tmp_path, **settings))
    kb.warm_up()
    with session_scope(kb.engine) as session:
        for name, role in STAFF_ACCOUNTS:
            create_user(session, name, role, PASSWORD)
    return kb
