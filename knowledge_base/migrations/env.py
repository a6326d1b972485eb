"""Alembic environment: runs on the connection handed over by ``knowledge_base.db.migrate``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

import api.auth.models  # noqa: F401 - registers the staff tables
import nlu.models  # noqa: F401 - registers the conversation tables
from api.channels.zalo import models as zalo_models  # noqa: F401 - Zalo channel tables
from knowledge_base.models import Base
from nlu.notifications import models as notification_models  # noqa: F401 - notification tables

config = context.config
target_metadata = Base.metadata


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        from knowledge_base.settings import get_settings

        engine = create_engine(get_settings().database_url)
        with engine.begin() as connection:
            _run(connection)
    else:
        _run(connection)


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
