"""The staff dashboard (charts over a date range, CSV export) and the province's own figures,
which admins enter and the chat then answers from."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.deps import AdminDep, EditorDep, KnowledgeBaseDep, run_in_session
from api.site.render import SITE_PREFIX, back_to, page
from knowledge_base import facts
from knowledge_base.facts import FACT_KINDS, FactError
from knowledge_base.service import KnowledgeBase
from nlu import analytics
from nlu.analytics import PROVINCE_TZ

router = APIRouter(prefix=SITE_PREFIX, include_in_schema=False)
DEFAULT_DAYS = 30
MAX_DAYS = 366


def _period(start: date | None, end: date | None) -> tuple[date, date]:
    today = datetime.now(PROVINCE_TZ).date()
    end = min(end or today, today)
    start = start or end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        start, end = end, start
    return max(start, end - timedelta(days=MAX_DAYS - 1)), end


def _named(kb: KnowledgeBase, rows: list[tuple[str, int]]) -> list[dict[str, Any]]:
    named = []
    for code, count in rows:
        procedure = kb.procedure(code)
        named.append({"code": code, "name": procedure.name if procedure else code, "count": count})
    return named


@router.get("")
async def dashboard_page(
    request: Request,
    kb: KnowledgeBaseDep,
    staff: EditorDep,
    start: Annotated[date | None, Query(alias="from")] = None,
    end: Annotated[date | None, Query(alias="to")] = None,
) -> HTMLResponse:
    first, last = _period(start, end)
    board = await run_in_session(kb, lambda s: analytics.dashboard(s, first, last))
    top_procedures = await run_in_threadpool(_named, kb, board.top_procedures)
    chart_data = {
        "days": [d.day.strftime("%d/%m") for d in board.days],
        "web": [d.web for d in board.days],
        "phone": [d.phone for d in board.days],
        "ratings": [board.ratings.get(score, 0) for score in range(1, 6)],
        "outcomes": [
            board.answered,
            board.refused,
            board.questions - board.answered - board.refused,
        ],
    }
    return page(
        request,
        "dashboard.html",
        staff,
        board=board,
        chart_data=chart_data,
        top_procedures=top_procedures,
        start=first,
        end=last,
    )


@router.get("/dashboard.csv")
async def dashboard_csv(
    kb: KnowledgeBaseDep,
    _: EditorDep,
    start: Annotated[date | None, Query(alias="from")] = None,
    end: Annotated[date | None, Query(alias="to")] = None,
) -> Response:
    first, last = _period(start, end)
    board = await run_in_session(kb, lambda s: analytics.dashboard(s, first, last))
    return Response(
        "\ufeff" + analytics.to_csv(board),  # the BOM makes Excel read UTF-8 Vietnamese
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="tong-dai-{first}-{last}.csv"'},
    )


@router.get("/facts")
async def facts_page(request: Request, kb: KnowledgeBaseDep, staff: AdminDep) -> HTMLResponse:
    stored = await run_in_session(kb, facts.stored)
    return page(request, "facts.html", staff, kinds=FACT_KINDS, stored=stored, values={})


@router.post("/facts")
async def facts_save(request: Request, kb: KnowledgeBaseDep, staff: AdminDep) -> Response:
    form = await request.form()
    values = {kind.key: str(form.get(kind.key) or "").strip() for kind in FACT_KINDS}
    as_of = str(form.get("as_of") or "").strip()[:60]

    def work(session: Session) -> None:
        for key, value in values.items():
            if value:
                facts.save(session, staff.username, key, value, as_of)
            else:
                facts.clear(session, staff.username, key)

    try:
        await run_in_session(kb, work)  # all figures or none: one transaction
    except FactError as exc:
        stored = await run_in_session(kb, facts.stored)
        return page(
            request,
            "facts.html",
            staff,
            422,
            kinds=FACT_KINDS,
            stored=stored,
            values=values,
            as_of=as_of,
            error=str(exc),
        )
    kb.facts.forget()
    return back_to(f"{SITE_PREFIX}/facts", "facts")
