"""The staff page about the ranking model: the facts for every staff member, the retrain button
for admins only, "Đang huấn luyện…" while it runs, then the result with its reason."""

from __future__ import annotations

import html
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.site.render import percent
from knowledge_base.ranking.jobs import RetrainJob
from knowledge_base.ranking.model import RankerInfo
from knowledge_base.ranking.pipeline import TrainingReport
from knowledge_base.service import KnowledgeBase
from nlu.chat import OfflineDialogue
from tests.api.conftest import PASSWORD, staffed_kb

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
REFUSAL = "Mô hình mới kém hơn (Recall@1 0.500 < 0.790); giữ mô hình cũ."


@pytest.fixture
def kb(tmp_path: Path) -> KnowledgeBase:
    return staffed_kb(tmp_path)


class Gate:
    def __init__(self) -> None:
        self.release = threading.Event()

    def __call__(self, kb: KnowledgeBase) -> TrainingReport:
        assert self.release.wait(30)
        info = RankerInfo("2026-01-01T00:00:00+00:00", 12, 12, {"staff": 12}, {"recall@1": 0.5})
        return TrainingReport(False, REFUSAL, info)


@pytest.fixture
def site(kb: KnowledgeBase) -> Iterator[tuple[TestClient, Gate, RetrainJob]]:
    gate = Gate()
    job = RetrainJob(kb, gate)
    app = create_app(kb=kb, dialogue=OfflineDialogue())
    app.state.ranker_job = job
    with TestClient(app) as client:
        yield client, gate, job
    gate.release.set()  # never leave the process-wide training lock held
    job.wait(30)


def sign_in(client: TestClient, username: str) -> str:
    response = client.post("/staff/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return CSRF_RE.search(response.text).group(1)


def test_an_editor_sees_the_model_but_cannot_retrain(site, kb):
    client, _, job = site
    csrf = sign_in(client, "editor1")
    page = client.get("/staff/model")
    assert page.status_code == 200 and "Mô hình xếp hạng" in page.text
    assert 'href="/staff/model" aria-current="page"' in page.text  # the nav link
    assert "Đi kèm phần mềm" in page.text and "Recall@1" in page.text
    assert percent(kb.ranker.info.cv["recall@1"]) in page.text  # the shipped model's figure
    assert "Huấn luyện lại</button>" not in page.text
    refused = client.post("/staff/model/retrain", data={"csrf_token": csrf})
    assert refused.status_code == 403 and "không có quyền" in refused.text
    assert not job.status().running


def test_an_admin_retrains_and_sees_progress_then_the_reason(site):
    client, gate, job = site
    csrf = sign_in(client, "admin1")
    assert "Huấn luyện lại</button>" in client.get("/staff/model").text
    assert client.post("/staff/model/retrain", data={}).status_code == 403  # no CSRF token
    running = client.post("/staff/model/retrain", data={"csrf_token": csrf})
    assert running.status_code == 200 and running.url.path == "/staff/model"
    assert "Đang huấn luyện…" in running.text and 'http-equiv="refresh"' in running.text
    assert "Huấn luyện lại</button>" not in running.text
    busy = client.post("/staff/model/retrain", data={"csrf_token": csrf})
    assert "Đang có một lần huấn luyện khác chạy" in busy.text
    gate.release.set()
    assert job.wait(10)
    done = client.get("/staff/model").text
    assert "Mô hình mới bị từ chối." in done and html.escape(REFUSAL) in done
    assert "Đang huấn luyện…" not in done and 'http-equiv="refresh"' not in done
