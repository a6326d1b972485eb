"""Staff pages for FAQ curation: list and search, edit with optimistic locking, the workflow,
versions, diffs and rollback. Role checks are the same dependencies as the API's."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.auth.service import Staff
from api.deps import EditorDep, KnowledgeBaseDep, ReviewerDep, run_in_session
from api.routes.admin_faq import FaqIn, FaqOut, faq_out, find_entries
from api.site.render import back_to, page
from knowledge_base import curation
from knowledge_base.curation import VersionConflictError
from knowledge_base.models import AuditEntry, FaqEntry, FaqStatus, FaqVersion
from knowledge_base.service import KnowledgeBase

router = APIRouter(prefix="/staff/faq", include_in_schema=False)
_SPLIT_RE = re.compile(r"[,;\s]+")


@dataclass
class FaqForm:
    """The form's raw text, kept as typed so nothing is lost when it has to be shown again."""

    questions: str = ""
    answer: str = ""
    procedure_codes: str = ""
    tags: str = ""

    def parsed(self) -> FaqIn:
        return FaqIn(
            questions=[q.strip() for q in self.questions.splitlines() if q.strip()],
            answer=self.answer.strip(),
            procedure_codes=[c for c in _SPLIT_RE.split(self.procedure_codes) if c],
            tags=[t.strip() for t in self.tags.split(",") if t.strip()],
        )

    @classmethod
    def of(cls, entry: FaqOut) -> FaqForm:
        return cls(
            "\n".join(entry.questions),
            entry.answer,
            ", ".join(entry.procedure_codes),
            ", ".join(entry.tags),
        )


FormText = Annotated[str, Form(max_length=20_000)]


def _invalid(exc: ValidationError) -> str:
    fields = {"questions": "câu hỏi", "answer": "câu trả lời", "procedure_codes": "mã thủ tục"}
    names = sorted({fields.get(str(e["loc"][0]), str(e["loc"][0])) for e in exc.errors()})
    return "Chưa lưu: hãy kiểm tra " + ", ".join(names) + " (không được để trống, không quá dài)."


def _detail(session: Session, entry_id: int) -> dict[str, Any]:
    entry = faq_out(session, curation.get(session, entry_id))
    audit = session.scalars(
        select(AuditEntry)
        .where(AuditEntry.target == f"faq:{entry_id}")
        .order_by(AuditEntry.id.desc())
        .limit(50)
    ).all()
    versions: list[FaqVersion] = curation.versions(session, entry_id)
    return {"entry": entry, "versions": versions, "audit": list(audit)}


async def _entry_page(
    request: Request,
    kb: KnowledgeBase,
    staff: Staff,
    entry_id: int,
    status_code: int = 200,
    form: FaqForm | None = None,
    **extra: Any,
) -> HTMLResponse:
    context = await run_in_session(kb, lambda s: _detail(s, entry_id))
    entry: FaqOut = context["entry"]
    return page(
        request,
        "faq_form.html",
        staff,
        status_code,
        form=form or FaqForm.of(entry),
        form_version=entry.version,
        **context,
        **extra,
    )


@router.get("")
async def faq_list(
    request: Request,
    kb: KnowledgeBaseDep,
    staff: EditorDep,
    q: Annotated[str, Query(max_length=200)] = "",
    status: Annotated[str, Query(max_length=16)] = "",
) -> HTMLResponse:
    wanted = FaqStatus(status) if status in FaqStatus._value2member_map_ else None
    entries = await run_in_session(kb, lambda s: find_entries(s, wanted, q))
    return page(request, "faq_list.html", staff, entries=entries, q=q, status=status)


@router.get("/new")
async def faq_new(request: Request, staff: EditorDep) -> HTMLResponse:
    return page(request, "faq_form.html", staff, entry=None, form=FaqForm())


@router.post("/new")
async def faq_create(
    request: Request,
    kb: KnowledgeBaseDep,
    staff: EditorDep,
    questions: FormText,
    answer: FormText,
    procedure_codes: FormText = "",
    tags: FormText = "",
) -> Response:
    form = FaqForm(questions, answer, procedure_codes, tags)
    try:
        content = form.parsed().content()
    except ValidationError as exc:
        return page(
            request, "faq_form.html", staff, 422, entry=None, form=form, error=_invalid(exc)
        )
    entry_id = await run_in_session(kb, lambda s: curation.create(s, staff.username, content).id)
    return back_to(f"/staff/faq/{entry_id}", "created")


@router.get("/{entry_id}")
async def faq_detail(
    request: Request, entry_id: int, kb: KnowledgeBaseDep, staff: EditorDep
) -> HTMLResponse:
    return await _entry_page(request, kb, staff, entry_id)


@router.post("/{entry_id}")
async def faq_update(
    request: Request,
    entry_id: int,
    kb: KnowledgeBaseDep,
    staff: EditorDep,
    version: Annotated[int, Form()],
    questions: FormText,
    answer: FormText,
    procedure_codes: FormText = "",
    tags: FormText = "",
) -> Response:
    form = FaqForm(questions, answer, procedure_codes, tags)
    try:
        content = form.parsed().content()
    except ValidationError as exc:
        return await _entry_page(request, kb, staff, entry_id, 422, form, error=_invalid(exc))
    try:
        await run_in_session(
            kb, lambda s: curation.update(s, staff.username, entry_id, version, content)
        )
    except VersionConflictError:
        # The other editor's version is shown; this editor's text stays in the form.
        return await _entry_page(
            request,
            kb,
            staff,
            entry_id,
            409,
            form,
            error="Mục này vừa được người khác lưu thành phiên bản mới. Nội dung bạn nhập vẫn còn "
            "trong ô bên dưới: hãy xem phiên bản mới nhất rồi lưu lại.",
        )
    return back_to(f"/staff/faq/{entry_id}", "saved")


@router.post("/{entry_id}/submit")
async def faq_submit(entry_id: int, kb: KnowledgeBaseDep, staff: EditorDep) -> RedirectResponse:
    await run_in_session(kb, lambda s: curation.submit(s, staff.username, entry_id))
    return back_to(f"/staff/faq/{entry_id}", "submitted")


async def _live_change(
    request: Request,
    kb: KnowledgeBase,
    staff: Staff,
    entry_id: int,
    step: Callable[[Session], FaqEntry],
) -> HTMLResponse:
    """Commit, rebuild the index beside the serving one, and say on the page how that went."""
    await run_in_session(kb, step)
    refresh = await run_in_threadpool(kb.refresh_index)
    return await _entry_page(
        request, kb, staff, entry_id, index_message=refresh.message, index_ok=refresh.ok
    )


@router.post("/{entry_id}/publish")
async def faq_publish(
    request: Request, entry_id: int, kb: KnowledgeBaseDep, staff: ReviewerDep
) -> HTMLResponse:
    return await _live_change(
        request, kb, staff, entry_id, lambda s: curation.publish(s, staff.username, entry_id)
    )


@router.post("/{entry_id}/archive")
async def faq_archive(
    request: Request, entry_id: int, kb: KnowledgeBaseDep, staff: ReviewerDep
) -> HTMLResponse:
    return await _live_change(
        request, kb, staff, entry_id, lambda s: curation.archive(s, staff.username, entry_id)
    )


@router.post("/{entry_id}/rollback")
async def faq_rollback(
    request: Request,
    entry_id: int,
    kb: KnowledgeBaseDep,
    staff: ReviewerDep,
    version: Annotated[int, Form(ge=1)],
) -> HTMLResponse:
    return await _live_change(
        request,
        kb,
        staff,
        entry_id,
        lambda s: curation.rollback(s, staff.username, entry_id, version),
    )


@router.get("/{entry_id}/diff")
async def faq_diff(
    request: Request,
    entry_id: int,
    kb: KnowledgeBaseDep,
    staff: EditorDep,
    old: Annotated[int, Query(alias="from", ge=1)],
    new: Annotated[int, Query(alias="to", ge=1)],
) -> HTMLResponse:
    text = await run_in_session(kb, lambda s: curation.diff(s, entry_id, old, new))
    lines = text.splitlines()
    return page(request, "faq_diff.html", staff, entry_id=entry_id, old=old, new=new, lines=lines)
