"""Staff pages for FAQ curation: list and search, edit with optimistic locking, the workflow,
versions, diffs and rollback. Role checks are the same dependencies as the API's."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from api.auth.service import Staff
from api.deps import (
    EditorDep,
    KnowledgeBaseDep,
    run_in_session,
)
from api.routes.admin_faq import FaqIn, FaqOut, faq_out, find_entries
from api.site.render import back_to, page
from api.site.workflow_pages import EDIT_CONFLICT, add_workflow_pages
from knowledge_base import curation
from knowledge_base.curation import VersionConflictError
from knowledge_base.models import CurationStatus, FaqVersion
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
    entry = faq_out(session, curation.FAQ.get(session, entry_id))
    versions: list[FaqVersion] = curation.FAQ.versions(session, entry_id)
    return {"entry": entry, "versions": versions, "audit": curation.FAQ.audit(session, entry_id)}


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
    wanted = CurationStatus(status) if status in CurationStatus._value2member_map_ else None
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
    entry_id = await run_in_session(
        kb, lambda s: curation.FAQ.create(s, staff.username, content).id
    )
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
            kb, lambda s: curation.FAQ.update(s, staff.username, entry_id, version, content)
        )
    except VersionConflictError:
        # The other editor's version is shown; this editor's text stays in the form.
        return await _entry_page(request, kb, staff, entry_id, 409, form, error=EDIT_CONFLICT)
    return back_to(f"/staff/faq/{entry_id}", "saved")


add_workflow_pages(router, curation.FAQ, "Câu hỏi", _entry_page)
