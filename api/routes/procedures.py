"""GET /api/v1/procedures (search, filters, pages) and GET /api/v1/procedures/{code}."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.deps import KnowledgeBaseDep, SessionDep
from api.errors import NotFoundError
from api.schemas import ChannelOut, DocumentOut, ProcedureListItem, ProcedureOut, ProcedurePage
from knowledge_base.models import Procedure
from knowledge_base.retrieval.searcher import analyze
from knowledge_base.service import KnowledgeBase

router = APIRouter(prefix="/api/v1/procedures", tags=["procedures"])


def _item(p: Procedure) -> ProcedureListItem:
    return ProcedureListItem(
        code=p.code,
        name=p.name,
        field=p.field,
        levels=list(p.levels),
        agency=p.implementing_agency or p.competent_agency,
        url=p.source_url,
    )


async def find_procedures(
    kb: KnowledgeBase, session: Session, q: str | None, field: str | None, level: str | None
) -> list[Procedure]:
    """Search results in rank order, or the whole catalogue by code when there is no query."""
    statement = select(Procedure)
    if field:
        statement = statement.where(Procedure.field == field)
    if q and q.strip():
        searcher = kb.searcher
        hits = await run_in_threadpool(lambda: searcher.search(analyze(q, searcher.index), 200))
        ranked = [h.document.codes[0] for h in hits if h.document.kind == "procedure"]
        found = {p.code: p for p in session.scalars(statement.where(Procedure.code.in_(ranked)))}
        matches = [found[c] for c in ranked if c in found]
    else:
        matches = list(session.scalars(statement.order_by(Procedure.code)))
    if level:
        matches = [p for p in matches if any(level.lower() in lv.lower() for lv in p.levels)]
    return matches


@router.get("", response_model=ProcedurePage, summary="Search and browse the catalogue")
async def list_procedures(
    kb: KnowledgeBaseDep,
    session: SessionDep,
    q: Annotated[str | None, Query(max_length=500, description="free-text search")] = None,
    field: Annotated[str | None, Query(max_length=255, description="lĩnh vực, exact")] = None,
    level: Annotated[str | None, Query(max_length=64, description="e.g. 'Cấp xã'")] = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
) -> ProcedurePage:
    matches = await find_procedures(kb, session, q, field, level)
    start = (page - 1) * page_size
    return ProcedurePage(
        items=[_item(p) for p in matches[start : start + page_size]],
        total=len(matches),
        page=page,
        page_size=page_size,
    )


@router.get(
    "/{code}", response_model=ProcedureOut, summary="One procedure with channels and documents"
)
async def get_procedure(code: str, session: SessionDep) -> ProcedureOut:
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
