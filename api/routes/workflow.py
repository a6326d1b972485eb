"""The workflow steps every curated kind of entry (FAQ, lexicon) offers through the staff API:
submit, publish, archive, rollback, versions and diff. Roles: editors submit and read, reviewers
change what is live (and the index is rebuilt after)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from api.deps import EditorDep, KnowledgeBaseDep, ReviewerDep, commit_then_refresh, run_in_session
from api.schemas import MAX_DB_INT
from knowledge_base.curation import Workflow

EntryId = Annotated[int, Path(ge=1, le=MAX_DB_INT)]
Version = Annotated[int, Field(ge=1, le=MAX_DB_INT)]


class RollbackIn(BaseModel):
    version: Version


def add_workflow_routes(
    router: APIRouter,
    path: str,
    workflow: Workflow[Any, Any, Any],
    to_out: Callable[[Session, Any, str | None], BaseModel],
    out_model: type[BaseModel],
    version_model: type[BaseModel],
) -> None:
    """Register the steps under ``{path}/{entry_id}/…``; ``to_out(session, entry, index
    message)`` renders an entry."""

    async def live_change(kb: Any, entry_id: int, step: Callable[[Session], Any]) -> BaseModel:
        refresh = await commit_then_refresh(kb, step)
        return await run_in_session(
            kb, lambda s: to_out(s, workflow.get(s, entry_id), refresh.message)
        )

    @router.post(f"{path}/{{entry_id}}/submit", response_model=out_model)
    async def submit(entry_id: EntryId, kb: KnowledgeBaseDep, staff: EditorDep) -> BaseModel:
        return await run_in_session(
            kb, lambda s: to_out(s, workflow.submit(s, staff.username, entry_id), None)
        )

    @router.post(f"{path}/{{entry_id}}/publish", response_model=out_model)
    async def publish(entry_id: EntryId, kb: KnowledgeBaseDep, staff: ReviewerDep) -> BaseModel:
        return await live_change(
            kb,
            entry_id,
            lambda s: workflow.publish(
                s, staff.username, entry_id, kb.settings.single_person_office
            ),
        )

    @router.post(f"{path}/{{entry_id}}/archive", response_model=out_model)
    async def archive(entry_id: EntryId, kb: KnowledgeBaseDep, staff: ReviewerDep) -> BaseModel:
        return await live_change(
            kb, entry_id, lambda s: workflow.archive(s, staff.username, entry_id)
        )

    @router.post(f"{path}/{{entry_id}}/rollback", response_model=out_model)
    async def rollback(
        entry_id: EntryId, body: RollbackIn, kb: KnowledgeBaseDep, staff: ReviewerDep
    ) -> BaseModel:
        return await live_change(
            kb, entry_id, lambda s: workflow.rollback(s, staff.username, entry_id, body.version)
        )

    @router.get(f"{path}/{{entry_id}}/versions", response_model=list[version_model])  # type: ignore[valid-type]
    async def versions(entry_id: EntryId, kb: KnowledgeBaseDep, _: EditorDep) -> list[BaseModel]:
        def work(session: Session) -> list[BaseModel]:
            rows = workflow.versions(session, entry_id)
            return [version_model.model_validate(v, from_attributes=True) for v in rows]

        return await run_in_session(kb, work)

    @router.get(f"{path}/{{entry_id}}/diff", response_model=str)
    async def diff(
        entry_id: EntryId,
        kb: KnowledgeBaseDep,
        _: EditorDep,
        old: Annotated[int, Query(alias="from", ge=1, le=MAX_DB_INT)],
        new: Annotated[int, Query(alias="to", ge=1, le=MAX_DB_INT)],
    ) -> str:
        return await run_in_session(kb, lambda s: workflow.diff(s, entry_id, old, new))
