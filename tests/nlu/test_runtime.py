"""The Rasa runtime glue: model cache key and the endpoints written from the settings."""

from pathlib import Path

from nlu.runtime import endpoints_yaml, model_path, project_hash
from tests.conftest import make_settings


def test_endpoints_for_sqlite_without_redis(tmp_path: Path):
    settings = make_settings(tmp_path)
    text = endpoints_yaml(settings, "http://127.0.0.1:8000/")
    assert 'url: "http://127.0.0.1:8000/api/v1/rasa/webhook"' in text
    assert "dialect: sqlite" in text and str((tmp_path / "hotline.db").resolve()) in text
    assert "lock_store" not in text and "token" not in text


def test_endpoints_for_postgres_redis_and_token(tmp_path: Path):
    settings = make_settings(
        tmp_path,
        database_url="postgresql://hotline:pw@db.internal:5433/hotline",
        redis_url="redis://127.0.0.1:6379/2",
        rasa_action_token="action-token-123",
    )
    text = endpoints_yaml(settings, "http://api:8000")
    assert "dialect: postgresql" in text and 'url: "db.internal"' in text and "port: 5433" in text
    assert 'db: "hotline"' in text and 'username: "hotline"' in text
    assert "type: redis" in text and "port: 6379" in text and "db: 2" in text
    assert 'token: "action-token-123"' in text


def test_model_is_cached_by_project_hash(tmp_path: Path):
    settings = make_settings(tmp_path, rasa_dir=tmp_path / "rasa")
    assert model_path(settings) == tmp_path / "rasa" / "models" / f"hotline-{project_hash()}.tar.gz"
    assert project_hash() == project_hash()
