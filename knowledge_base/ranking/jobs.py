"""Retraining the ranker on request from the staff site: on a background thread, one training
at a time in the process, with a status the pages and the API can show while it runs."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from knowledge_base.db import session_scope
from knowledge_base.models import AuditEntry
from knowledge_base.ranking.model import RankerInfo
from knowledge_base.ranking.pipeline import TrainingReport, retrain
from knowledge_base.service import KnowledgeBase

logger = logging.getLogger(__name__)

Trainer = Callable[[KnowledgeBase], TrainingReport]

# Training is CPU-heavy and swaps the served model: never two at once in a process, whichever
# knowledge base or job asked.
_TRAINING = threading.Lock()


class TrainingBusyError(Exception):
    """A training is already running in this process."""


def staff_retrain(kb: KnowledgeBase) -> TrainingReport:
    """What the staff site runs: the staff examples in the database, nothing forced."""
    return retrain(kb, extra=[])


@dataclass(frozen=True)
class TrainingResult:
    accepted: bool
    message: str
    finished_at: datetime
    started_by: str
    info: RankerInfo | None = None  # None when the training failed before producing a model
    failed: bool = False


@dataclass(frozen=True)
class JobStatus:
    running: bool
    started_at: datetime | None = None
    started_by: str | None = None
    last: TrainingResult | None = None


@dataclass
class _State:
    running: bool = False
    started_at: datetime | None = None
    started_by: str | None = None
    last: TrainingResult | None = None
    finished: threading.Event = field(default_factory=threading.Event)


class RetrainJob:
    """Single-flight retraining for one knowledge base."""

    def __init__(self, kb: KnowledgeBase, trainer: Trainer = staff_retrain) -> None:
        self.kb = kb
        self._trainer = trainer
        self._guard = threading.Lock()  # protects _state, held only for a moment
        self._state = _State()
        self._state.finished.set()

    def status(self) -> JobStatus:
        with self._guard:
            s = self._state
            return JobStatus(s.running, s.started_at, s.started_by, s.last)

    def start(self, actor: str) -> JobStatus:
        """Start a training on a daemon thread and return at once; ``TrainingBusyError`` when
        one is already running here or anywhere else in the process."""
        if not _TRAINING.acquire(blocking=False):
            raise TrainingBusyError("a ranker training is already running")
        try:
            started = self._mark_running(actor)
            thread = threading.Thread(
                target=self._run, args=(actor,), name="ranker-retrain", daemon=True
            )
            thread.start()
        except BaseException:
            self._finish(None)
            raise
        logger.info("ranker.retrain_started", extra={"actor": actor})
        return started

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the running training (if any) ends; for tests."""
        return self._state.finished.wait(timeout)

    def _mark_running(self, actor: str) -> JobStatus:
        with self._guard:
            s = self._state
            s.running, s.started_at, s.started_by = True, datetime.now(UTC), actor
            s.finished.clear()
            return JobStatus(True, s.started_at, actor, s.last)

    def _run(self, actor: str) -> None:
        result: TrainingResult | None = None
        try:
            result = self._train(actor)
            self._audit(result)
        finally:
            self._finish(result)

    def _train(self, actor: str) -> TrainingResult:
        try:
            report = self._trainer(self.kb)
        except Exception as exc:  # the job must always end and say why
            logger.exception("ranker.retrain_failed", extra={"actor": actor})
            message = f"Huấn luyện không thành công: {exc}. Mô hình đang dùng được giữ nguyên."
            return TrainingResult(False, message, datetime.now(UTC), actor, failed=True)
        return TrainingResult(
            report.accepted, report.message, datetime.now(UTC), actor, report.info
        )

    def _finish(self, result: TrainingResult | None) -> None:
        with self._guard:
            self._state.running = False
            self._state.started_at = self._state.started_by = None  # the result says who, when
            if result is not None:
                self._state.last = result
            self._state.finished.set()
        _TRAINING.release()

    def _audit(self, result: TrainingResult) -> None:
        detail = ("accepted: " if result.accepted else "refused: ") + result.message
        try:
            with session_scope(self.kb.engine) as session:
                session.add(
                    AuditEntry(
                        actor=result.started_by,
                        action="ranker.retrain",
                        target="ranker",
                        detail=detail,
                    )
                )
        except Exception:  # the audit line is not worth losing the result over
            logger.exception("ranker.retrain_audit_failed")
        logger.info(
            "ranker.retrain_finished",
            extra={"actor": result.started_by, "accepted": result.accepted},
        )
