"""The citizens' lexicon for staff: how people say it → how the catalogue writes it. Staff add
entries, change or retire bundled ones, through the same draft → review → publish workflow as
FAQ entries; a publish rebuilds the index and the question reader."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from api.deps import (
    EditorDep,
    KnowledgeBaseDep,
    run_in_session,
)
from api.routes.workflow import EntryId, Version, add_workflow_routes
from api.schemas import UtcDateTime, error_responses
from knowledge_base import curation
from knowledge_base.curation import PhraseContent
from knowledge_base.models import LexiconEntryRow
from knowledge_base.understanding import staff as lexicon_staff

router = APIRouter(
    prefix="/api/v1/admin/lexicon",
    tags=["staff: lexicon"],
    responses=error_responses(400, 401, 403, 404, 409, 413, 422),
)
Phrase = Annotated[str, Field(min_length=1, max_length=120)]


class LexiconIn(BaseModel):
    kind: Literal["object", "action", "qualifier", "phrase"]
    term: Annotated[str, Field(min_length=1, max_length=120)]
    phrases: Annotated[list[Phrase], Field(max_length=60)] = []  # none needed to retire
    active: bool = True  # False: retire the bundled entry with this kind and term

    def content(self) -> PhraseContent:
        return PhraseContent(self.kind, self.term, list(self.phrases), self.active)


class LexiconUpdate(LexiconIn):
    version: Version  # the version the editor started from (optimistic lock)


class LexiconOut(BaseModel):
    id: int
    status: str
    version: int
    published_version: int | None
    kind: str  # of the newest version
    term: str
    phrases: list[str]
    active: bool
    updated_at: UtcDateTime
    index: str | None = None  # after publish / archive / rollback: how the refresh went


class LineOut(BaseModel):
    kind: str
    term: str
    phrases: list[str]
    bundled: bool
    entry: LexiconOut | None


class LexiconVersionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    number: int
    author: str
    note: str
    created_at: UtcDateTime
    kind: str
    term: str
    phrases: list[str]
    active: bool


def lexicon_out(session: Session, row: LexiconEntryRow, index: str | None = None) -> LexiconOut:
    newest = curation.LEXICON.version(session, row.id, row.version)
    return LexiconOut(
        id=row.id,
        status=row.status.value,
        version=row.version,
        published_version=row.published_version,
        kind=newest.kind,
        term=newest.term,
        phrases=list(newest.phrases),
        active=newest.active,
        updated_at=row.updated_at,
        index=index,
    )


def find_lines(session: Session, kind: str, q: str) -> list[LineOut]:
    return [
        LineOut(
            kind=line.kind,
            term=line.term,
            phrases=list(line.phrases),
            bundled=line.bundled,
            entry=lexicon_out(session, line.entry) if line.entry else None,
        )
        for line in lexicon_staff.lexicon_lines(session, kind, q)
    ]


def save_new(session: Session, actor: str, content: PhraseContent) -> LexiconEntryRow:
    return curation.LEXICON.create(session, actor, lexicon_staff.checked(session, content))


def save_edit(
    session: Session, actor: str, entry_id: int, version: int, content: PhraseContent
) -> LexiconEntryRow:
    clean = lexicon_staff.checked(session, content, entry_id)
    return curation.LEXICON.update(session, actor, entry_id, version, clean)


@router.get("", response_model=list[LineOut])
async def list_lexicon(
    kb: KnowledgeBaseDep,
    _: EditorDep,
    kind: Annotated[str, Query(max_length=16)] = "",
    q: Annotated[str, Query(max_length=120)] = "",
) -> list[LineOut]:
    return await run_in_session(kb, lambda s: find_lines(s, kind, q))


@router.post("", response_model=LexiconOut, status_code=201)
async def create_entry(body: LexiconIn, kb: KnowledgeBaseDep, staff: EditorDep) -> LexiconOut:
    content = body.content()
    return await run_in_session(kb, lambda s: lexicon_out(s, save_new(s, staff.username, content)))


@router.get("/{entry_id}", response_model=LexiconOut)
async def get_entry(entry_id: EntryId, kb: KnowledgeBaseDep, _: EditorDep) -> LexiconOut:
    return await run_in_session(kb, lambda s: lexicon_out(s, curation.LEXICON.get(s, entry_id)))


@router.put("/{entry_id}", response_model=LexiconOut)
async def update_entry(
    entry_id: EntryId, body: LexiconUpdate, kb: KnowledgeBaseDep, staff: EditorDep
) -> LexiconOut:
    content = body.content()
    return await run_in_session(
        kb, lambda s: lexicon_out(s, save_edit(s, staff.username, entry_id, body.version, content))
    )


add_workflow_routes(router, "", curation.LEXICON, lexicon_out, LexiconOut, LexiconVersionOut)
