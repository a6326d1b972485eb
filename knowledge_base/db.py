"""Engine, sessions and schema migration (Alembic) for SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    # as many connections as the worker threads that use them (anyio's default limit is 40),
    # so a burst of requests waits for a thread, never for a connection while holding one
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=THREADS - 10,
        pool_timeout=POOL_WAIT_S,
        # a database that is down or unreachable fails a request in seconds, not minutes
        connect_args={"connect_timeout": CONNECT_TIMEOUT_S},
    )


THREADS = 40
CONNECT_TIMEOUT_S = 3
POOL_WAIT_S = 10


@lru_cache(maxsize=8)
def engine_for(url: str) -> Engine:
    return make_engine(url)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    with session_factory(engine)() as session, session.begin():
        yield session


def ping(engine: Engine) -> None:
    """Raise when the database cannot answer a trivial query."""
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


class SchemaBehindError(RuntimeError):
    """The database's schema is older than this release expects."""


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def check_schema(engine: Engine) -> None:
    """Refuse to serve a database whose schema is behind (or ahead of) this release."""
    current, head = current_revision(engine), head_revision()
    if current != head:
        raise SchemaBehindError(
            f"the database schema is at {current or 'nothing'}, this release needs {head}: "
            "run 'hotline db upgrade' (once, before the workers start)"
        )


@contextmanager
def setup_lock(engine: Engine) -> Iterator[None]:
    """One process at a time migrates and seeds: a PostgreSQL advisory lock held on a
    connection of its own (SQLite serialises schema changes on its file)."""
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _SETUP_LOCK_KEY})
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _SETUP_LOCK_KEY})


_SETUP_LOCK_KEY = 0x486F746C696E65  # "Hotline"


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision."""
    config = _alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
