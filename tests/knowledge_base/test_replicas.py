"""Replicas that share a database but no disk: a FAQ published through one is answered by the
other within seconds, whether or not the other is being asked meanwhile."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.main import create_app
from knowledge_base import curation
from knowledge_base.curation import FaqContent
from knowledge_base.db import session_scope
from knowledge_base.models import SiteRanker
from knowledge_base.ranking.site_store import KEEP_VERSIONS
from knowledge_base.service import KnowledgeBase
from nlu.chat import OfflineDialogue
from tests.conftest import make_settings
from tests.knowledge_base.test_ranker import _ranker

QUESTION = "Bộ phận một cửa có làm việc vào thứ bảy không?"
ANSWER = "Bộ phận một cửa tỉnh nhận hồ sơ sáng thứ bảy từ 7 giờ 30 đến 11 giờ 30."


def _replica(database_url: str, folder: Path) -> KnowledgeBase:
    kb = KnowledgeBase(make_settings(folder, database_url=database_url, index_follow_s=0.2))
    kb.warm_up()
    return kb


def _publish_faq(kb: KnowledgeBase) -> None:
    with session_scope(kb.engine) as session:
        entry = curation.FAQ.create(
            session, "editor1", FaqContent(questions=[QUESTION], answer=ANSWER)
        )
        curation.FAQ.publish(session, "reviewer1", entry.id, single_person=True)
    assert kb.refresh_index().ok


def test_a_faq_published_on_one_replica_reaches_the_other(postgres_url: str, tmp_path: Path):
    replica_a = _replica(postgres_url, tmp_path / "a")
    replica_b = _replica(postgres_url, tmp_path / "b")
    assert replica_b.ask(QUESTION).answer != ANSWER
    app_b = create_app(kb=replica_b, dialogue=OfflineDialogue())
    with TestClient(app_b) as client_b:
        _publish_faq(replica_a)
        published = time.monotonic()
        # nobody asks replica B meanwhile: its own follower must catch up
        while replica_b.ask(QUESTION).answer != ANSWER:
            assert time.monotonic() - published < 5, "replica B did not follow within 5 s"
            time.sleep(0.1)
        followed_s = time.monotonic() - published
        answer = client_b.post("/api/v1/ask", json={"question": QUESTION}).json()
    assert answer["answer"] == ANSWER
    assert followed_s < 5


def test_a_ranker_trained_on_one_replica_serves_on_the_other(postgres_url: str, tmp_path: Path):
    replica_a = _replica(postgres_url, tmp_path / "a")
    replica_b = _replica(postgres_url, tmp_path / "b")
    trained = _ranker(0.9, seed=7)
    replica_a.publish_ranker(trained)  # what an accepted retrain does
    served = trained.booster.model_to_string()
    assert replica_a.ranker is trained
    assert replica_b.ranker is None or replica_b.ranker.booster.model_to_string() != served
    replica_b.follow_changes()  # one tick of its background follower
    assert replica_b.ranker is not None
    assert replica_b.ranker.booster.model_to_string() == served
    assert replica_b.searcher.ranker is replica_b.ranker
    assert replica_b.ranker.info.cv == {"recall@1": 0.9}
    # a replica started afterwards serves it from its first question
    replica_c = _replica(postgres_url, tmp_path / "c")
    assert replica_c.ranker is not None
    assert replica_c.ranker.booster.model_to_string() == served
    # the database keeps a few versions, not every training
    for seed in range(KEEP_VERSIONS + 2):
        replica_a.publish_ranker(_ranker(0.9, seed=seed))
    with session_scope(replica_a.engine) as session:
        assert session.scalar(select(func.count(SiteRanker.id))) == KEEP_VERSIONS
