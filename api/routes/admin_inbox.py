"""Unanswered-questions inbox for staff: grouped refusals, one-click FAQ draft, one-click link
to a procedure, dismiss."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.deps import EditorDep, KnowledgeBaseDep
from api.errors import NotFoundError
from api.schemas import UtcDateTime, error_responses
from knowledge_base import curation
from knowledge_base.db import session_scope
from knowledge_base.service import KnowledgeBase
from nlu import inbox

router = APIRouter(
    prefix="/api/v1/admin/inbox",
    tags=["staff: inbox"],
    responses=error_responses(400, 401, 403, 404, 413, 422),
)
DRAFT_ANSWER = "(Cần soạn câu trả lời)"


class Suggestion(BaseModel):
    code: str
    name: str


InboxKind = Literal[
    "not_sure", "not_in_province", "figure_missing", "not_understood", "out_of_scope", "unanswered"
]


class GroupOut(BaseModel):
    key: str
    question: str
    kind: InboxKind = Field(description="why the latest wording was not answered")
    count: int
    last_seen: UtcDateTime | None
    wordings: list[str]
    suggestions: list[Suggestion]


class GroupRef(BaseModel):
    key: Annotated[str, Field(min_length=1, max_length=200)]


class LinkRequest(GroupRef):
    code: Annotated[str, Field(min_length=1, max_length=32)]


class LinkOut(BaseModel):
    """The wordings recorded as training examples for procedure ``code``."""

    code: str
    questions: list[str]


class DraftOut(BaseModel):
    faq_id: int
    questions: list[str]
    procedure_codes: list[str]


def suggest(kb: KnowledgeBase, question: str) -> list[Suggestion]:
    # Refused questions still come back with their nearest procedures: good hints for staff.
    return [Suggestion(code=p.code, name=p.name) for p in kb.ask(question, top_k=3).procedures]


@router.get("", response_model=list[GroupOut])
async def list_inbox(
    kb: KnowledgeBaseDep,
    _: EditorDep,
    days: Annotated[int, Query(ge=1, le=365)] = 30,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    kind: InboxKind | None = None,
) -> list[GroupOut]:
    return await run_in_threadpool(groups, kb, days, limit, kind)


def draft_faq(kb: KnowledgeBase, key: str, actor: str) -> DraftOut | None:
    """A FAQ draft with the group's wordings as questions and the top suggestion linked."""
    with session_scope(kb.engine) as session:
        group = inbox.by_key(session, key)
        if group is None:
            return None
        codes = [s.code for s in suggest(kb, group.question)[:1]]
        content = curation.FaqContent(group.wordings[:5], DRAFT_ANSWER, codes, ["hộp thư"])
        entry = curation.FAQ.create(session, actor, content)
        inbox.close(session, key, actor, "drafted")
        return DraftOut(faq_id=entry.id, questions=content.questions, procedure_codes=codes)


def known_code(kb: KnowledgeBase, code: str) -> str | None:
    """The code as stored when the catalogue has it."""
    code = code.strip()
    return code if code in kb.known_codes() else None


def unknown_code(code: str) -> RequestValidationError:
    # The same 422 shape as a malformed body: the field is well-formed but names nothing.
    error = {"loc": ("body", "code"), "msg": f"no procedure with code {code!r}", "type": "value"}
    return RequestValidationError([error])


def link_group(kb: KnowledgeBase, key: str, code: str, actor: str) -> LinkOut | None:
    with session_scope(kb.engine) as session:
        group = inbox.link(session, key, code, actor)
    if group is None:
        return None
    return LinkOut(code=code, questions=group.wordings[: inbox.MAX_LINKED_WORDINGS])


def dismiss(kb: KnowledgeBase, key: str, actor: str) -> None:
    with session_scope(kb.engine) as session:
        inbox.close(session, key, actor, "dismissed")


def groups(kb: KnowledgeBase, days: int, limit: int, kind: str | None = None) -> list[GroupOut]:
    with session_scope(kb.engine) as session:
        found = inbox.unanswered(session, days, limit, kind)
    return [GroupOut(**g.__dict__, suggestions=suggest(kb, g.question)) for g in found]


@router.post("/draft", response_model=DraftOut, status_code=201)
async def draft_from_group(body: GroupRef, kb: KnowledgeBaseDep, staff: EditorDep) -> DraftOut:
    result = await run_in_threadpool(draft_faq, kb, body.key, staff.username)
    if result is None:
        raise NotFoundError("no such group in the inbox")
    return result


@router.post("/link", response_model=LinkOut, status_code=201)
async def link_to_procedure(body: LinkRequest, kb: KnowledgeBaseDep, staff: EditorDep) -> LinkOut:
    """Every wording of the group becomes a training example for the procedure's ranking."""
    code = await run_in_threadpool(known_code, kb, body.code)
    if code is None:
        raise unknown_code(body.code)
    result = await run_in_threadpool(link_group, kb, body.key, code, staff.username)
    if result is None:
        raise NotFoundError("no such group in the inbox")
    return result


@router.post("/dismiss", status_code=204)
async def dismiss_group(body: GroupRef, kb: KnowledgeBaseDep, staff: EditorDep) -> None:
    await run_in_threadpool(dismiss, kb, body.key, staff.username)
