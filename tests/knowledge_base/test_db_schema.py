"""Migrations and seeding run once (``hotline db upgrade``); workers refuse a schema that is
behind; several processes preparing one database at once serialise on a lock."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from api.cli.main import app
from knowledge_base.db import SchemaBehindError, current_revision, head_revision
from knowledge_base.service import KnowledgeBase
from tests.conftest import make_settings


def test_a_worker_that_does_not_migrate_refuses_a_schema_behind(tmp_path: Path):
    kb = KnowledgeBase(make_settings(tmp_path, migrate_on_start=False))
    with pytest.raises(SchemaBehindError, match="hotline db upgrade"):
        kb.warm_up()
    kb.prepare_database()
    kb.warm_up()
    assert kb.procedure_count() > 0


def test_production_leaves_migrations_to_their_own_step(tmp_path: Path):
    assert not make_settings(
        tmp_path,
        environment="production",
        redis_url="redis://x",
        voice_stream_token="t" * 24,
        rasa_url="",
        database_url="postgresql://h@db/hotline",
        secret_key="a-real-secret-key-0123456789",
    ).migrates_on_start
    assert make_settings(tmp_path).migrates_on_start


def test_db_upgrade_and_check_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HOTLINE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("HOTLINE_EMBEDDER_BACKEND", "hashing")
    runner = CliRunner()
    behind = runner.invoke(app, ["db", "check"])
    assert behind.exit_code == 1 and "hotline db upgrade" in behind.output
    upgraded = runner.invoke(app, ["db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    assert head_revision() in upgraded.output
    assert runner.invoke(app, ["db", "check"]).exit_code == 0


PREPARE = """
import sys
from knowledge_base.service import KnowledgeBase
from knowledge_base.settings import Settings
KnowledgeBase(Settings(database_url=sys.argv[1], data_dir=sys.argv[2],
                       embedder_backend="hashing")).prepare_database()
"""


def test_processes_preparing_one_database_at_once_serialise(postgres_url: str, tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", PREPARE, postgres_url, str(tmp_path / str(n))],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(3)
    ]
    for worker in workers:
        _, errors = worker.communicate(timeout=120)
        assert worker.returncode == 0, errors
    engine = create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        assert current_revision(engine) == head_revision()
        with engine.connect() as connection:
            assert connection.scalar(text("SELECT count(*) FROM alembic_version")) == 1
            codes = connection.execute(text("SELECT code, count(*) FROM procedures GROUP BY code"))
            assert all(count == 1 for _, count in codes)
    finally:
        engine.dispose()
