"""GET /api/v1/procedures (search, filters, pages) and GET /api/v1/procedures/{code}."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.deps import KnowledgeBaseDep, run_in_session
from api.errors import NotFoundError
from api.schemas import (
    ChannelOut,
    DocumentOut,
    ProcedureListItem,
    ProcedureOut,
    ProcedurePage,
    error_responses,
)
from knowledge_base.models import Procedure
from knowledge_base.retrieval.searcher import analyze
from knowledge_base.service import KnowledgeBase

router = APIRouter(
    prefix="/api/v1/procedures", tags=["procedures"], responses=error_responses(404, 422)
)
SEARCH_DEPTH = 200


def _item(p: Procedure) -> ProcedureListItem:
    return ProcedureListItem(
        code=p.code,
        name=p.name,
        field=p.field,
        levels=list(p.levels),
        agency=p.implementing_agency or p.competent_agency,
        url=p.source_url,
    )


@dataclass(frozen=True)
class Found:
    procedures: list[Procedure]  # the requested page
    total: int


def _levels_match(levels: list[str], level: str) -> bool:
    return any(level.lower() in lv.lower() for lv in levels)


def find_procedures(
    kb: KnowledgeBase,
    session: Session,
    q: str | None,
    field: str | None,
    level: str | None,
    offset: int,
    limit: int,
) -> Found:
    """One page of search results in rank order, or of the catalogue by code when there is no
    query (blocking: run it in a worker thread). Only the page's records are loaded."""
    statement = select(Procedure)
    if field:
        statement = statement.where(Procedure.field == field)
    if q and q.strip():
        searcher = kb.searcher
        hits = searcher.search(analyze(q, searcher.index), SEARCH_DEPTH)
        ranked = [h.document.codes[0] for h in hits if h.document.kind == "procedure"]
        found = {p.code: p for p in session.scalars(statement.where(Procedure.code.in_(ranked)))}
        matches = [found[c] for c in ranked if c in found]
        if level:
            matches = [p for p in matches if _levels_match(p.levels, level)]
        return Found(matches[offset : offset + limit], len(matches))
    if level:  # levels is a JSON list: filter its (small) column, then load the page
        keyed = session.execute(
            statement.with_only_columns(Procedure.id, Procedure.levels).order_by(Procedure.code)
        )
        ids = [i for i, levels in keyed if _levels_match(levels, level)]
        wanted = ids[offset : offset + limit]
        rows = {p.id: p for p in session.scalars(select(Procedure).where(Procedure.id.in_(wanted)))}
        return Found([rows[i] for i in wanted], len(ids))
    total = session.scalar(statement.with_only_columns(func.count(Procedure.id))) or 0
    page = session.scalars(statement.order_by(Procedure.code).offset(offset).limit(limit))
    return Found(list(page), total)


@router.get("", response_model=ProcedurePage, summary="Search and browse the catalogue")
async def list_procedures(
    kb: KnowledgeBaseDep,
    q: Annotated[str | None, Query(max_length=500, description="free-text search")] = None,
    field: Annotated[str | None, Query(max_length=255, description="lĩnh vực, exact")] = None,
    level: Annotated[str | None, Query(max_length=64, description="e.g. 'Cấp xã'")] = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
) -> ProcedurePage:
    offset = (page - 1) * page_size

    def work(session: Session) -> ProcedurePage:
        found = find_procedures(kb, session, q, field, level, offset, page_size)
        return ProcedurePage(
            items=[_item(p) for p in found.procedures],
            total=found.total,
            page=page,
            page_size=page_size,
        )

    return await run_in_session(kb, work)


@router.get(
    "/{code}", response_model=ProcedureOut, summary="One procedure with channels and documents"
)
async def get_procedure(code: str, kb: KnowledgeBaseDep) -> ProcedureOut:
    return await run_in_session(kb, lambda s: procedure_by_code(s, code))


def procedure_by_code(session: Session, code: str) -> ProcedureOut:
    procedure = session.scalar(select(Procedure).where(Procedure.code == code))
    if procedure is None:
        raise NotFoundError(f"no procedure with code {code!r}")
    return procedure_out(procedure)


def procedure_out(procedure: Procedure) -> ProcedureOut:
    return ProcedureOut(
        code=procedure.code,
        name=procedure.name,
        field=procedure.field,
        levels=list(procedure.levels),
        implementing_agency=procedure.implementing_agency,
        competent_agency=procedure.competent_agency,
        receiving_address=procedure.receiving_address,
        target_group=procedure.target_group,
        steps=procedure.steps,
        result=procedure.result,
        legal_basis=list(procedure.legal_basis),
        conditions=procedure.conditions,
        source_url=procedure.source_url,
        channels=[
            ChannelOut(
                channel=c.channel.value,
                channel_label=c.channel.label,
                time_limit_text=c.time_limit_text,
                time_limit_value=float(c.time_limit_value)
                if c.time_limit_value is not None
                else None,
                time_limit_unit=c.time_limit_unit,
                fee_text=c.fee_text,
                fee_vnd=c.fee_vnd,
                fee_free=c.fee_free,
                description=c.description,
            )
            for c in procedure.channels
        ],
        documents=[
            DocumentOut(name=d.name, originals=d.originals, copies=d.copies, form=d.form)
            for d in procedure.documents
        ],
    )
