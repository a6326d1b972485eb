"""Retraining from the staff site: a better model is swapped in (served and saved), a worse or
unvalidated one is refused and leaves the model and its files as they were, and trainings run
one at a time, in the background."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from knowledge_base.db import session_scope
from knowledge_base.models import AuditEntry, FaqEntry
from knowledge_base.ranking.jobs import RetrainJob, TrainingBusyError
from knowledge_base.ranking.model import (
    META_FILE,
    MODEL_FILE,
    Ranker,
    RankerInfo,
    RankerMismatchError,
    load_ranker,
)
from knowledge_base.ranking.pipeline import TrainingReport, may_replace
from knowledge_base.service import KnowledgeBase
from tests.conftest import make_settings
from tests.knowledge_base.test_ranker import _ranker

# Staff-written questions on the bundled sample catalogue: enough (>= 2 per fold) to
# cross-validate the retrained model.
STAFF_FAQ = [
    (["làm giấy khai sinh cho con", "dang ky khai sinh o dau"], ["1.001193"]),
    (["đăng ký kết hôn cần gì", "dang ky ket hon mat bao lau"], ["1.000894"]),
    (["xin phiếu lý lịch tư pháp", "ly lich tu phap bao lau"], ["3.000330"]),
    (["sang tên sổ đỏ"], ["1.013831"]),
    (["đổi bằng lái xe ô tô"], ["3.000347"]),
    (["chứng thực bản sao giấy tờ", "công chứng bản photo"], ["2.000815"]),
    (["nhập hộ khẩu cho vợ", "nhap ho khau cho con"], ["1.004222"]),
]


@pytest.fixture
def kb(tmp_path: Path) -> KnowledgeBase:
    """The sample catalogue with the fast hashing embedder and some staff FAQ entries."""
    kb = KnowledgeBase(make_settings(tmp_path))
    kb.warm_up()
    with session_scope(kb.engine) as session:
        for questions, codes in STAFF_FAQ:
            session.add(FaqEntry(questions=questions, answer="Xem thủ tục.", procedure_codes=codes))
    return kb


def _serve(kb: KnowledgeBase, cv_recall: float) -> None:
    """Put a model with the given cross-validated Recall@1 in service, saved like a site model."""
    current = _ranker(cv_recall)
    current.save(kb.settings.ranker_dir)
    kb.use_ranker(current)


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _run(job: RetrainJob) -> None:
    job.start("admin1")
    assert job.wait(300), "the training did not finish"


def _figures_only(cv_recall: float | None) -> Ranker:
    """Enough of a model for ``may_replace``, which reads only the figures."""
    cv = {} if cv_recall is None else {"recall@1": cv_recall}
    return Ranker(None, RankerInfo("2026-01-01T00:00:00+00:00", 10, 10, {}, cv), {})


def test_a_candidate_without_figures_does_not_replace_a_validated_model():
    accepted, message = may_replace(_figures_only(0.7), _figures_only(None))
    assert not accepted and "kiểm định chéo" in message and "0.700" in message
    assert may_replace(None, _figures_only(None))[0]  # nothing validated in service: accept
    assert may_replace(_figures_only(None), _figures_only(None))[0]
    assert may_replace(_figures_only(None), _figures_only(0.1))[0]
    assert may_replace(_figures_only(0.7), _figures_only(0.7))[0]  # as good is good enough
    assert not may_replace(_figures_only(0.7), _figures_only(0.69))[0]


@pytest.mark.slow
def test_an_accepted_retrain_serves_and_saves_the_new_model(kb):
    _serve(kb, cv_recall=0.0)
    old = kb.ranker
    job = RetrainJob(kb)
    _run(job)
    last = job.status().last
    assert last is not None and last.accepted and not last.failed, last
    assert kb.ranker is not old and kb.searcher.ranker is kb.ranker
    assert kb.ranker.info.sources["staff"] == sum(len(q) for q, _ in STAFF_FAQ)
    assert "recall@1" in kb.ranker.info.cv and last.info == kb.ranker.info
    # the files on disk are the served model, both of them, with no staging file left over
    folder = kb.settings.ranker_dir
    assert sorted(_files(folder)) == sorted([MODEL_FILE, META_FILE])
    assert (folder / MODEL_FILE).read_text("utf-8") == kb.ranker.booster.model_to_string()
    saved = load_ranker(folder)
    assert saved is not None and saved.info.cv == kb.ranker.info.cv
    with session_scope(kb.engine) as session:
        audit = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "ranker.retrain")
        ).one()
        assert audit.actor == "admin1" and audit.detail.startswith("accepted")


@pytest.mark.slow
def test_a_worse_retrain_is_refused_and_changes_nothing(kb):
    _serve(kb, cv_recall=1.01)  # no model can beat it
    old, before = kb.ranker, _files(kb.settings.ranker_dir)
    job = RetrainJob(kb)
    _run(job)
    last = job.status().last
    assert last is not None and not last.accepted and not last.failed
    assert "kém hơn" in last.message and "1.010" in last.message
    assert last.info is not None and last.info.cv["recall@1"] < 1.01  # the refused figures
    assert kb.ranker is old and kb.searcher.ranker is old
    assert _files(kb.settings.ranker_dir) == before


class Gate:
    """A trainer that waits until the test lets it finish."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.calls = 0

    def __call__(self, kb: KnowledgeBase) -> TrainingReport:
        self.calls += 1
        self.entered.set()
        assert self.release.wait(30)
        info = RankerInfo("2026-01-01T00:00:00+00:00", 10, 10, {"staff": 10})
        return TrainingReport(False, "Mô hình mới kém hơn; giữ mô hình cũ.", info)


@pytest.fixture
def gate() -> Iterator[Gate]:
    gate = Gate()
    yield gate
    gate.release.set()  # never leave the process-wide training lock held


def test_one_training_at_a_time_in_the_process(tmp_path, gate):
    kb = KnowledgeBase(make_settings(tmp_path))
    job, other = RetrainJob(kb, gate), RetrainJob(kb, gate)
    started = job.start("admin1")
    assert started.running and started.started_by == "admin1" and started.started_at
    assert gate.entered.wait(10)
    with pytest.raises(TrainingBusyError):
        job.start("admin2")
    with pytest.raises(TrainingBusyError):
        other.start("admin2")  # another job, same process
    gate.release.set()
    assert job.wait(10)
    status = job.status()
    assert not status.running and status.started_at is None and status.started_by is None
    assert status.last is not None and not status.last.accepted
    assert status.last.started_by == "admin1"
    assert gate.calls == 1
    other.start("admin2")  # free again
    assert other.wait(10) and gate.calls == 2


def test_a_failed_training_is_reported_and_frees_the_job(tmp_path):
    def broken(kb: KnowledgeBase) -> TrainingReport:
        raise RuntimeError("hết bộ nhớ")

    job = RetrainJob(KnowledgeBase(make_settings(tmp_path)), broken)
    _run(job)
    last = job.status().last
    assert last is not None and last.failed and not last.accepted
    assert "hết bộ nhớ" in last.message and last.info is None
    _run(job)  # the lock was released


def test_another_worker_follows_a_saved_model_and_never_loads_a_half_saved_pair(
    kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = KnowledgeBase(kb.settings)  # a second worker process on the same site folder
    other.warm_up()
    assert other.searcher.ranker is other.ranker
    newer = _ranker(0.9)
    newer.save(kb.settings.ranker_dir)
    monkeypatch.setattr("knowledge_base.service.INDEX_CHECK_INTERVAL_S", -1.0)
    assert other.searcher.ranker is not None
    assert other.ranker is not None and other.ranker.info.cv == newer.info.cv
    # a model file from another training beside this metadata: refused, not mixed
    folder = kb.settings.ranker_dir
    (folder / MODEL_FILE).write_text(_ranker(0.1).booster.model_to_string() + "\n", "utf-8")
    with pytest.raises(RankerMismatchError):
        load_ranker(folder)
