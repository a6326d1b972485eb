"""FAQ curation for staff: drafts, review, publish (index refreshed), archive, rollback, diffs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.deps import (
    EditorDep,
    KnowledgeBaseDep,
    ReviewerDep,
    run_in_session,
)
from api.routes.workflow import EntryId, Version, add_workflow_routes
from api.schemas import CitizenText, UtcDateTime, error_responses
from knowledge_base import curation
from knowledge_base.curation import FaqContent
from knowledge_base.models import AuditEntry, CurationStatus, FaqEntry, FaqVersion

router = APIRouter(
    prefix="/api/v1/admin",
    tags=["staff: FAQ"],
    responses=error_responses(400, 401, 403, 404, 409, 413, 422),
)


class FaqIn(BaseModel):
    questions: Annotated[list[CitizenText], Field(min_length=1, max_length=20)]
    answer: CitizenText
    procedure_codes: Annotated[list[str], Field(max_length=20)] = []
    tags: Annotated[list[str], Field(max_length=20)] = []

    def content(self) -> FaqContent:
        return FaqContent(self.questions, self.answer, self.procedure_codes, self.tags)


class FaqUpdate(FaqIn):
    version: Version  # the version the editor started from (optimistic lock)


class FaqOut(BaseModel):
    id: int
    status: str
    version: int
    published_version: int | None
    questions: list[str]  # of the newest version
    answer: str
    procedure_codes: list[str]
    tags: list[str]
    updated_at: UtcDateTime
    index: str | None = None  # after publish / archive / rollback: how the refresh went


class VersionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    number: int
    author: str
    note: str
    created_at: UtcDateTime
    questions: list[str]
    answer: str


class AuditOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    actor: str
    action: str
    target: str
    detail: str
    created_at: UtcDateTime


def faq_out(session: Session, entry: FaqEntry, index: str | None = None) -> FaqOut:
    newest: FaqVersion = curation.FAQ.version(session, entry.id, entry.version)
    return FaqOut(
        id=entry.id,
        status=entry.status.value,
        version=entry.version,
        published_version=entry.published_version,
        questions=newest.questions,
        answer=newest.answer,
        procedure_codes=newest.procedure_codes,
        tags=newest.tags,
        updated_at=entry.updated_at,
        index=index,
    )


@router.get("/faq", response_model=list[FaqOut])
async def list_faq(
    kb: KnowledgeBaseDep,
    _: EditorDep,
    status: CurationStatus | None = None,
    q: Annotated[str, Query(max_length=200)] = "",
) -> list[FaqOut]:
    return await run_in_session(kb, lambda s: find_entries(s, status, q))


def find_entries(session: Session, status: CurationStatus | None, q: str) -> list[FaqOut]:
    """Newest first; ``q`` matches the newest version's questions, answer or tags."""
    query = select(FaqEntry).order_by(FaqEntry.updated_at.desc())
    if status is not None:
        query = query.where(FaqEntry.status == status)
    entries = [faq_out(session, e) for e in session.scalars(query)]
    needle = q.strip().lower()
    return [
        e
        for e in entries
        if not needle or needle in " ".join([*e.questions, e.answer, *e.tags]).lower()
    ]


@router.post("/faq", response_model=FaqOut, status_code=201)
async def create_faq(body: FaqIn, kb: KnowledgeBaseDep, staff: EditorDep) -> FaqOut:
    return await run_in_session(
        kb, lambda s: faq_out(s, curation.FAQ.create(s, staff.username, body.content()))
    )


@router.get("/faq/{entry_id}", response_model=FaqOut)
async def get_faq(entry_id: EntryId, kb: KnowledgeBaseDep, _: EditorDep) -> FaqOut:
    return await run_in_session(kb, lambda s: faq_out(s, curation.FAQ.get(s, entry_id)))


@router.put("/faq/{entry_id}", response_model=FaqOut)
async def update_faq(
    entry_id: EntryId, body: FaqUpdate, kb: KnowledgeBaseDep, staff: EditorDep
) -> FaqOut:
    return await run_in_session(
        kb,
        lambda s: faq_out(
            s, curation.FAQ.update(s, staff.username, entry_id, body.version, body.content())
        ),
    )


@router.get("/audit", response_model=list[AuditOut])
async def audit_log(
    kb: KnowledgeBaseDep, _: ReviewerDep, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> list[AuditOut]:
    def work(session: Session) -> list[AuditOut]:
        rows = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit))
        return [AuditOut.model_validate(r) for r in rows]

    return await run_in_session(kb, work)


add_workflow_routes(router, "/faq", curation.FAQ, faq_out, FaqOut, VersionOut)
