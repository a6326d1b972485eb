"""The ranker for staff: what model is in service (when it was trained, on what, how well it
cross-validated) and, for admins, retraining it in the background."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from api.deps import AdminDep, EditorDep, KnowledgeBaseDep
from api.errors import ConflictError
from api.schemas import error_responses
from knowledge_base.ranking.jobs import JobStatus, RetrainJob, TrainingBusyError, TrainingResult
from knowledge_base.ranking.model import META_FILE, MODEL_FILE, RankerInfo
from knowledge_base.service import KnowledgeBase

router = APIRouter(
    prefix="/api/v1/admin", tags=["staff: ranker"], responses=error_responses(401, 403, 409, 422)
)


def get_ranker_job(request: Request) -> RetrainJob:
    job: RetrainJob = request.app.state.ranker_job
    return job


RankerJobDep = Annotated[RetrainJob, Depends(get_ranker_job)]


class Figure(BaseModel):
    mean: float
    spread: float  # standard deviation over the folds


class CrossValidation(BaseModel):
    scored_questions: int
    folds: int
    recall_at_1: Figure | None
    recall_at_5: Figure | None
    mrr_at_10: Figure | None


class ModelOut(BaseModel):
    trained_at: str
    examples: int  # training rows (questions over one catalogue or another)
    queries: int  # of those, the ones whose answer was among the candidates
    sources: dict[str, int]  # examples by where they came from: staff, synthetic, files
    features: int
    cv: CrossValidation | None  # None: too few curated examples to cross-validate
    # bundled: the model shipped with the software; site: one trained here
    origin: Literal["bundled", "site"] | None = None


class ResultOut(BaseModel):
    accepted: bool
    failed: bool
    message: str
    finished_at: datetime
    started_by: str
    model: ModelOut | None  # the model that was trained, whether swapped in or refused


class TrainingOut(BaseModel):
    running: bool
    started_at: datetime | None
    started_by: str | None
    last: ResultOut | None


class RankerOut(BaseModel):
    model: ModelOut | None  # None: no model, questions are ranked by retrieval alone
    training: TrainingOut


def _figure(cv: dict[str, Any], key: str) -> Figure | None:
    if key not in cv:
        return None
    return Figure(mean=float(cv[key]), spread=float(cv.get(f"{key}_spread", 0.0)))


def _cross_validation(cv: dict[str, Any]) -> CrossValidation | None:
    if "recall@1" not in cv:
        return None
    return CrossValidation(
        scored_questions=int(cv.get("scored_questions", 0)),
        folds=int(cv.get("cross_validated_folds", len(cv.get("folds", [])))),
        recall_at_1=_figure(cv, "recall@1"),
        recall_at_5=_figure(cv, "recall@5"),
        mrr_at_10=_figure(cv, "mrr@10"),
    )


def model_out(info: RankerInfo, origin: Literal["bundled", "site"] | None = None) -> ModelOut:
    return ModelOut(
        trained_at=info.trained_at,
        examples=info.examples,
        queries=info.queries,
        sources=dict(info.sources),
        features=len(info.features),
        cv=_cross_validation(info.cv),
        origin=origin,
    )


def _result_out(result: TrainingResult) -> ResultOut:
    return ResultOut(
        accepted=result.accepted,
        failed=result.failed,
        message=result.message,
        finished_at=result.finished_at,
        started_by=result.started_by,
        model=model_out(result.info) if result.info is not None else None,
    )


def training_out(status: JobStatus) -> TrainingOut:
    return TrainingOut(
        running=status.running,
        started_at=status.started_at,
        started_by=status.started_by,
        last=_result_out(status.last) if status.last is not None else None,
    )


def _origin(kb: KnowledgeBase) -> Literal["bundled", "site"]:
    folder = kb.settings.ranker_dir
    site = (folder / MODEL_FILE).exists() and (folder / META_FILE).exists()
    return "site" if site else "bundled"


def ranker_view(kb: KnowledgeBase, job: RetrainJob) -> RankerOut:
    """Blocking (it looks at the model folder): call it on a worker thread."""
    ranker = kb.ranker
    model = model_out(ranker.info, _origin(kb)) if ranker is not None else None
    return RankerOut(model=model, training=training_out(job.status()))


@router.get("/ranker", response_model=RankerOut)
async def get_ranker(kb: KnowledgeBaseDep, job: RankerJobDep, _: EditorDep) -> RankerOut:
    return await run_in_threadpool(ranker_view, kb, job)


def start_training(job: RetrainJob, actor: str) -> JobStatus:
    try:
        return job.start(actor)
    except TrainingBusyError as exc:
        raise ConflictError("a ranker training is already running; wait for it to finish") from exc


@router.post("/ranker/retrain", response_model=TrainingOut, status_code=202)
async def retrain_ranker(job: RankerJobDep, staff: AdminDep) -> TrainingOut:
    """Start retraining on the staff examples; poll ``GET /ranker`` for the result. A model
    that cross-validates worse than the one in service is refused, with the reason."""
    return training_out(start_training(job, staff.username))
