"""Staff pages for the citizens' lexicon ("Cách nói của người dân"): list and search the bundled
and staff entries, add or change one (a bundled entry is changed by a staff entry with the same
kind and term), retire a bundled one, and the same workflow as FAQ entries."""

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
from api.routes.admin_lexicon import LexiconIn, find_lines, lexicon_out, save_edit, save_new
from api.site.render import back_to, page
from api.site.workflow_pages import EDIT_CONFLICT, add_workflow_pages
from knowledge_base import curation
from knowledge_base.curation import InvalidEntryError, VersionConflictError
from knowledge_base.service import KnowledgeBase
from knowledge_base.understanding.lexicon import KINDS
from knowledge_base.understanding.staff import bundled_entry

router = APIRouter(prefix="/staff/lexicon", include_in_schema=False)
KIND_LABELS = {
    "object": "Giấy tờ, hồ sơ",
    "action": "Việc cần làm",
    "qualifier": "Trường hợp riêng",
    "phrase": "Cụm từ",
}
_PHRASE_SPLIT_RE = re.compile(r"[\n|]+")
FormText = Annotated[str, Form(max_length=10_000)]


@dataclass
class LexiconForm:
    """The form's raw text, kept as typed so nothing is lost when it has to be shown again."""

    kind: str = "object"
    term: str = ""
    phrases: str = ""
    active: bool = True

    def parsed(self) -> LexiconIn:
        return LexiconIn(
            kind=self.kind,
            term=self.term.strip(),
            phrases=[p.strip() for p in _PHRASE_SPLIT_RE.split(self.phrases) if p.strip()],
            active=self.active,
        )


def _invalid(exc: ValidationError) -> str:
    return (
        "Chưa lưu: hãy chọn loại mục, ghi cách viết chính thức và ít nhất một cách nói "
        "(mỗi dòng một cách nói, tối đa 60 cách, mỗi cách tối đa 120 ký tự)."
    )


def _detail(session: Session, entry_id: int) -> dict[str, Any]:
    entry = lexicon_out(session, curation.LEXICON.get(session, entry_id))
    return {
        "entry": entry,
        "versions": curation.LEXICON.versions(session, entry_id),
        "audit": curation.LEXICON.audit(session, entry_id),
        "bundled": bundled_entry(entry.kind, entry.term),
    }


async def _entry_page(
    request: Request,
    kb: KnowledgeBase,
    staff: Staff,
    entry_id: int,
    status_code: int = 200,
    form: LexiconForm | None = None,
    **extra: Any,
) -> HTMLResponse:
    context = await run_in_session(kb, lambda s: _detail(s, entry_id))
    entry = context["entry"]
    shown = form or LexiconForm(entry.kind, entry.term, "\n".join(entry.phrases), entry.active)
    return page(
        request,
        "lexicon_form.html",
        staff,
        status_code,
        form=shown,
        form_version=entry.version,
        kinds=KIND_LABELS,
        **context,
        **extra,
    )


def _new_page(
    request: Request, staff: Staff, form: LexiconForm, status_code: int = 200, error: str = ""
) -> HTMLResponse:
    found = bundled_entry(form.kind, form.term) if form.term else None
    return page(
        request,
        "lexicon_form.html",
        staff,
        status_code,
        entry=None,
        form=form,
        kinds=KIND_LABELS,
        bundled=found,
        error=error,
    )


@router.get("")
async def lexicon_list(
    request: Request,
    kb: KnowledgeBaseDep,
    staff: EditorDep,
    q: Annotated[str, Query(max_length=120)] = "",
    kind: Annotated[str, Query(max_length=16)] = "",
) -> HTMLResponse:
    wanted = kind if kind in KINDS else ""
    lines = await run_in_session(kb, lambda s: find_lines(s, wanted, q))
    return page(
        request, "lexicon_list.html", staff, lines=lines, q=q, kind=wanted, kinds=KIND_LABELS
    )


@router.get("/new")
async def lexicon_new(
    request: Request,
    staff: EditorDep,
    kind: Annotated[str, Query(max_length=16)] = "object",
    term: Annotated[str, Query(max_length=120)] = "",
    retire: bool = False,
) -> HTMLResponse:
    """A blank form, or one that starts from a bundled entry (to change or retire it)."""
    form = LexiconForm(kind if kind in KINDS else "object", term)
    found = bundled_entry(form.kind, term) if term else None
    if found is not None:
        form.phrases = "\n".join(found.phrases)
        form.active = not retire
    return _new_page(request, staff, form)


def _form(kind: str, term: str, phrases: str, active: str) -> LexiconForm:
    return LexiconForm(kind, term, phrases, active != "no")


@router.post("/new")
async def lexicon_create(
    request: Request,
    kb: KnowledgeBaseDep,
    staff: EditorDep,
    kind: Annotated[str, Form(max_length=16)],
    term: Annotated[str, Form(max_length=200)],
    phrases: FormText = "",
    active: Annotated[str, Form(max_length=3)] = "yes",
) -> Response:
    form = _form(kind, term, phrases, active)
    try:
        content = form.parsed().content()
        entry_id = await run_in_session(kb, lambda s: save_new(s, staff.username, content).id)
    except ValidationError as exc:
        return _new_page(request, staff, form, 422, _invalid(exc))
    except InvalidEntryError as exc:
        return _new_page(request, staff, form, 422, str(exc))
    return back_to(f"/staff/lexicon/{entry_id}", "created")


@router.get("/{entry_id}")
async def lexicon_detail(
    request: Request, entry_id: int, kb: KnowledgeBaseDep, staff: EditorDep
) -> HTMLResponse:
    return await _entry_page(request, kb, staff, entry_id)


@router.post("/{entry_id}")
async def lexicon_update(
    request: Request,
    entry_id: int,
    kb: KnowledgeBaseDep,
    staff: EditorDep,
    version: Annotated[int, Form()],
    kind: Annotated[str, Form(max_length=16)],
    term: Annotated[str, Form(max_length=200)],
    phrases: FormText = "",
    active: Annotated[str, Form(max_length=3)] = "yes",
) -> Response:
    form = _form(kind, term, phrases, active)
    try:
        content = form.parsed().content()
        await run_in_session(kb, lambda s: save_edit(s, staff.username, entry_id, version, content))
    except ValidationError as exc:
        return await _entry_page(request, kb, staff, entry_id, 422, form, error=_invalid(exc))
    except InvalidEntryError as exc:
        return await _entry_page(request, kb, staff, entry_id, 422, form, error=str(exc))
    except VersionConflictError:
        return await _entry_page(request, kb, staff, entry_id, 409, form, error=EDIT_CONFLICT)
    return back_to(f"/staff/lexicon/{entry_id}", "saved")


add_workflow_pages(router, curation.LEXICON, "Cách nói", _entry_page)
