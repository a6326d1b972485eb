"""Production refuses to start without what replicas must share (Redis) and the tokens that
stand in for loopback trust."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from knowledge_base.settings import Settings

SECRET = "a-real-secret-0123456789"


def test_production_names_every_missing_setting(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(environment="production", secret_key=SECRET, data_dir=tmp_path)
    message = str(refused.value)
    for name in (
        "HOTLINE_REDIS_URL",
        "HOTLINE_RASA_ACTION_TOKEN",
        "HOTLINE_VOICE_STREAM_TOKEN",
        "HOTLINE_DATABASE_URL",
    ):
        assert name in message
    ready = Settings(
        environment="production",
        secret_key=SECRET,
        data_dir=tmp_path,
        redis_url="redis://127.0.0.1:6379/0",
        rasa_action_token="t" * 32,
        voice_stream_token="v" * 32,
        database_url="postgresql://hotline@db:5432/hotline",
    )
    assert ready.environment == "production"
    with pytest.raises(ValidationError, match="placeholder"):
        Settings(environment="production", secret_key="changethis", data_dir=tmp_path)


def test_development_runs_on_its_own_with_a_generated_secret(tmp_path: Path) -> None:
    local = Settings(environment="development", data_dir=tmp_path, secret_key="changethis")
    assert local.secret_key != "changethis" and len(local.secret_key) >= 16
