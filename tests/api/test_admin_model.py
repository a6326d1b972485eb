"""The ranker through the admin API: what model is in service, who may retrain it, one training
at a time (409 while one runs), and a refused model's reason."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from knowledge_base.ranking.jobs import RetrainJob
from knowledge_base.ranking.model import RankerInfo
from knowledge_base.ranking.pipeline import TrainingReport
from knowledge_base.service import KnowledgeBase
from nlu.chat import OfflineDialogue
from tests.api.conftest import PASSWORD, staffed_kb

RANKER = "/api/v1/admin/ranker"
RETRAIN = "/api/v1/admin/ranker/retrain"


@pytest.fixture
def kb(tmp_path: Path) -> KnowledgeBase:
    return staffed_kb(tmp_path)


@pytest.fixture
def app(kb: KnowledgeBase) -> Iterator[TestClient]:
    with TestClient(create_app(kb=kb, dialogue=OfflineDialogue())) as client:
        yield client


def login(client: TestClient, username: str) -> dict[str, str]:
    response = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"X-CSRF-Token": response.json()["csrf_token"]}


class Gate:
    """A trainer that waits until the test lets it finish, then reports a refusal."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def __call__(self, kb: KnowledgeBase) -> TrainingReport:
        assert self.release.wait(30)
        info = RankerInfo("2026-01-01T00:00:00+00:00", 12, 12, {"staff": 12}, {"recall@1": 0.5})
        return TrainingReport(False, "Mô hình mới kém hơn (Recall@1 0.500 < 0.790).", info)


@pytest.fixture
def gated(app: TestClient, kb: KnowledgeBase) -> Iterator[tuple[Gate, RetrainJob]]:
    gate = Gate()
    job = RetrainJob(kb, gate)
    app.app.state.ranker_job = job  # type: ignore[attr-defined]
    yield gate, job
    gate.release.set()  # never leave the process-wide training lock held
    job.wait(30)


def test_staff_see_the_model_in_service(app, kb):
    assert app.get(RANKER).status_code == 401
    login(app, "editor1")
    body = app.get(RANKER).json()
    model, info = body["model"], kb.ranker.info
    assert model["origin"] == "bundled" and model["trained_at"] == info.trained_at
    assert model["examples"] == info.examples and model["sources"] == info.sources
    assert model["features"] == len(info.features)
    recall = model["cv"]["recall_at_1"]
    assert recall["mean"] == info.cv["recall@1"] and recall["spread"] == info.cv["recall@1_spread"]
    assert model["cv"]["folds"] == info.cv["cross_validated_folds"]
    assert body["training"] == {
        "running": False,
        "started_at": None,
        "started_by": None,
        "last": None,
    }


def test_only_an_admin_may_retrain(app, gated):
    response = app.post(RETRAIN)
    assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"
    for name in ("editor1", "reviewer1"):
        headers = login(app, name)
        forbidden = app.post(RETRAIN, headers=headers)
        assert forbidden.status_code == 403 and forbidden.json()["error"]["code"] == "forbidden"
    login(app, "admin1")
    assert app.post(RETRAIN).status_code == 403  # no CSRF token
    assert not gated[1].status().running


def test_retrain_runs_in_the_background_and_a_second_one_conflicts(app, gated):
    gate, job = gated
    headers = login(app, "admin1")
    started = app.post(RETRAIN, headers=headers)
    assert started.status_code == 202, started.text
    assert started.json()["running"] and started.json()["started_by"] == "admin1"
    again = app.post(RETRAIN, headers=headers)
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"
    assert app.get(RANKER).json()["training"]["running"]
    gate.release.set()
    assert job.wait(10)
    last = app.get(RANKER).json()["training"]["last"]
    assert not last["accepted"] and "kém hơn" in last["message"]
    assert last["model"]["cv"]["recall_at_1"]["mean"] == 0.5


@pytest.mark.slow
def test_a_fresh_install_keeps_the_bundled_model_and_says_why(app, kb):
    """Few staff examples cannot be cross-validated: the shipped, validated model stays."""
    served = kb.ranker
    headers = login(app, "admin1")
    assert app.post(RETRAIN, headers=headers).status_code == 202
    job: RetrainJob = app.app.state.ranker_job  # type: ignore[attr-defined]
    assert job.wait(300)
    body = app.get(RANKER).json()
    last = body["training"]["last"]
    assert not last["accepted"] and not last["failed"], last
    assert "chưa được kiểm định chéo" in last["message"]
    assert last["model"]["cv"] is None and last["started_by"] == "admin1"
    assert body["model"]["origin"] == "bundled" and kb.ranker is served
    assert not kb.settings.ranker_dir.exists() or not any(kb.settings.ranker_dir.iterdir())
