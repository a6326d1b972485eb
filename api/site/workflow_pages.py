"""The workflow steps of a curated entry on the staff site (FAQ, lexicon): submit, publish,
archive, rollback and the diff page; each step shows the entry's page again, with how the index
refresh went after a change to what is live."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session

from api.auth.service import Staff
from api.deps import EditorDep, KnowledgeBaseDep, ReviewerDep, commit_then_refresh, run_in_session
from api.site.render import back_to, page
from knowledge_base.curation import Workflow
from knowledge_base.service import KnowledgeBase

EDIT_CONFLICT = (
    "Mục này vừa được người khác lưu thành phiên bản mới. Nội dung bạn nhập vẫn còn trong ô bên "
    "dưới: hãy xem phiên bản mới nhất rồi lưu lại."
)
EntryPage = Callable[..., Awaitable[HTMLResponse]]  # (request, kb, staff, entry_id, **context)


def add_workflow_pages(
    router: APIRouter, workflow: Workflow[Any, Any, Any], heading: str, entry_page: EntryPage
) -> None:
    """Register the steps under the router's prefix (``/staff/faq``…): ``{prefix}/{id}/…``."""
    base = router.prefix

    async def live_change(
        request: Request,
        kb: KnowledgeBase,
        staff: Staff,
        entry_id: int,
        step: Callable[[Session], Any],
    ) -> HTMLResponse:
        refresh = await commit_then_refresh(kb, step)
        return await entry_page(
            request, kb, staff, entry_id, index_message=refresh.message, index_ok=refresh.ok
        )

    @router.post("/{entry_id}/submit")
    async def submit(entry_id: int, kb: KnowledgeBaseDep, staff: EditorDep) -> RedirectResponse:
        await run_in_session(kb, lambda s: workflow.submit(s, staff.username, entry_id))
        return back_to(f"{base}/{entry_id}", "submitted")

    @router.post("/{entry_id}/publish")
    async def publish(
        request: Request, entry_id: int, kb: KnowledgeBaseDep, staff: ReviewerDep
    ) -> HTMLResponse:
        return await live_change(
            request,
            kb,
            staff,
            entry_id,
            lambda s: workflow.publish(
                s, staff.username, entry_id, kb.settings.single_person_office
            ),
        )

    @router.post("/{entry_id}/archive")
    async def archive(
        request: Request, entry_id: int, kb: KnowledgeBaseDep, staff: ReviewerDep
    ) -> HTMLResponse:
        return await live_change(
            request, kb, staff, entry_id, lambda s: workflow.archive(s, staff.username, entry_id)
        )

    @router.post("/{entry_id}/rollback")
    async def rollback(
        request: Request,
        entry_id: int,
        kb: KnowledgeBaseDep,
        staff: ReviewerDep,
        version: Annotated[int, Form(ge=1)],
    ) -> HTMLResponse:
        return await live_change(
            request,
            kb,
            staff,
            entry_id,
            lambda s: workflow.rollback(s, staff.username, entry_id, version),
        )

    @router.get("/{entry_id}/diff")
    async def diff(
        request: Request,
        entry_id: int,
        kb: KnowledgeBaseDep,
        staff: EditorDep,
        old: Annotated[int, Query(alias="from", ge=1)],
        new: Annotated[int, Query(alias="to", ge=1)],
    ) -> HTMLResponse:
        text = await run_in_session(kb, lambda s: workflow.diff(s, entry_id, old, new))
        return page(
            request,
            "diff.html",
            staff,
            heading=f"{heading} #{entry_id}",
            back=f"{base}/{entry_id}",
            old=old,
            new=new,
            lines=text.splitlines(),
        )
