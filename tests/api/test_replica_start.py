"""API replicas starting at the same moment over a fresh development database (as
``hotline cluster up`` starts them) seed the sample dossiers once between them."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import func, select

from api.main import _seed_sample_dossiers
from knowledge_base.db import migrate, session_scope
from knowledge_base.service import KnowledgeBase
from nlu.dossiers import SAMPLE_DOSSIERS, read_dossier_csv
from nlu.models import Dossier
from tests.conftest import make_settings


def test_replicas_starting_together_seed_the_sample_dossiers_once(
    postgres_url: str, tmp_path: Path
):
    kb = KnowledgeBase(make_settings(tmp_path, database_url=postgres_url))
    migrate(kb.engine)
    starting = threading.Barrier(4)
    errors: list[BaseException] = []

    def start() -> None:
        starting.wait()
        try:
            _seed_sample_dossiers(kb)
        except Exception as exc:  # the replica would fail its start-up
            errors.append(exc)

    replicas = [threading.Thread(target=start) for _ in range(4)]
    for replica in replicas:
        replica.start()
    for replica in replicas:
        replica.join(30)
    assert not errors, errors
    with session_scope(kb.engine) as session:
        seeded = session.scalar(select(func.count(Dossier.id)))
    assert seeded == len(list(read_dossier_csv(SAMPLE_DOSSIERS)))
    kb.engine.dispose()
