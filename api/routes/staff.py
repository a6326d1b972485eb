"""Handoff desk for staff (any logged-in role): waiting conversations, transcripts, replies,
the procedure staff answered about, release to the bot."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.auth.models import Role
from api.auth.service import Staff
from api.deps import ChannelRepliesDep, ChatDep, StaffDep, current_staff
from api.errors import ConflictError, NotFoundError
from api.routes.admin_inbox import LinkOut, known_code, unknown_code
from api.schemas import ConversationOut, StaffReply, TurnOut, error_responses
from knowledge_base.db import session_scope
from nlu import handoff_links
from nlu.chat import ChatService

router = APIRouter(
    prefix="/api/v1/staff/conversations",
    tags=["staff"],
    dependencies=[Depends(current_staff)],
    responses=error_responses(400, 401, 403, 404, 409, 413, 422),
)
ConversationId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{8,64}$")]


class ProcedurePick(BaseModel):
    code: Annotated[str, Field(min_length=1, max_length=32)]


def editor_limits(staff: Staff) -> bool:
    """Editors read and answer only conversations waiting for a person; reviewers and admins
    may open any transcript (complaints, audits)."""
    return not staff.may(Role.REVIEWER)


def _turn(t: object) -> TurnOut:
    return TurnOut.model_validate(
        {"id": t.id, "role": t.role.value, "text": t.text, "created_at": t.created_at}  # type: ignore[attr-defined]
    )


@router.get("", response_model=list[ConversationOut], summary="Conversations waiting for a human")
async def waiting(service: ChatDep) -> list[ConversationOut]:
    rows = await run_in_threadpool(service.waiting)
    return [
        ConversationOut(id=c.id, channel=c.channel, state=c.state.value, updated_at=c.updated_at)
        for c in rows
    ]


@router.get("/{conversation_id}/turns", response_model=list[TurnOut], summary="Transcript")
async def transcript(
    conversation_id: ConversationId, service: ChatDep, staff: StaffDep
) -> list[TurnOut]:
    turns = await run_in_threadpool(service.transcript, conversation_id, 0, editor_limits(staff))
    if turns is None:
        raise NotFoundError("unknown conversation, or not waiting for a person")
    return [_turn(t) for t in turns]


@router.post("/{conversation_id}/reply", response_model=TurnOut, summary="Reply as staff")
async def reply(
    conversation_id: ConversationId,
    body: StaffReply,
    service: ChatDep,
    staff: StaffDep,
    channels: ChannelRepliesDep,
) -> TurnOut:
    turn = await run_in_threadpool(
        service.staff_reply, conversation_id, body.text, editor_limits(staff)
    )
    if turn is None:
        raise NotFoundError("unknown conversation, or not waiting for a person")
    await channels.staff_reply(conversation_id, turn.text)  # Zalo: pushed to the citizen
    return _turn(turn)


def link_procedure(
    service: ChatService, conversation_id: str, code: str, actor: str
) -> list[str] | None:
    with session_scope(service.engine) as session:
        return handoff_links.link(session, conversation_id, code, actor)


@router.post(
    "/{conversation_id}/procedure",
    response_model=LinkOut,
    status_code=201,
    summary="The procedure staff answered about",
)
async def pick_procedure(
    conversation_id: ConversationId, body: ProcedurePick, service: ChatDep, staff: StaffDep
) -> LinkOut:
    """The citizen's questions before the handoff become training examples for the ranker."""
    code = await run_in_threadpool(known_code, service.kb, body.code)
    if code is None:
        raise unknown_code(body.code)
    questions = await run_in_threadpool(
        link_procedure, service, conversation_id, code, staff.username
    )
    if questions is None:
        raise NotFoundError("unknown conversation")
    if not questions:
        raise ConflictError("the citizen has asked no question in this conversation")
    return LinkOut(code=code, questions=questions)


@router.post("/{conversation_id}/release", status_code=204, summary="Hand back to the bot")
async def release(conversation_id: ConversationId, service: ChatDep) -> None:
    if not await run_in_threadpool(service.release, conversation_id):
        raise NotFoundError("unknown conversation")
