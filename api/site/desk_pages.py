"""Staff pages for the day-to-day desk: unanswered questions, conversations waiting for a
person (and the procedure staff answered about), and citizens' feedback."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.auth.service import Staff
from api.deps import ChannelRepliesDep, ChatDep, EditorDep, KnowledgeBaseDep, run_in_session
from api.errors import NotFoundError
from api.routes import admin_inbox
from api.routes.admin_feedback import TicketOut, answer_ticket
from api.routes.staff import editor_limits, link_procedure
from api.schemas import CitizenText
from api.site.render import SITE_PREFIX, back_to, page
from nlu import tickets
from nlu.chat import ChatService
from nlu.handoff_links import handoff_questions
from nlu.inbox import KIND_LABELS
from nlu.models import FeedbackStatus

router = APIRouter(prefix=SITE_PREFIX, include_in_schema=False)
ConversationId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{8,64}$")]
_CITIZEN_TEXT: TypeAdapter[str] = TypeAdapter(CitizenText)


def _citizen_text(raw: str) -> str | None:
    try:
        return _CITIZEN_TEXT.validate_python(raw.strip())
    except ValidationError:
        return None


def _unknown_code(code: str) -> str:
    if not code.strip():
        return "Hãy nhập mã thủ tục."
    return f"Không có thủ tục mã «{code.strip()}» trong danh mục; hãy kiểm tra lại mã."


# --- unanswered-questions inbox ---------------------------------------------------------------
@router.get("/inbox")
async def inbox_page(
    request: Request,
    kb: KnowledgeBaseDep,
    staff: EditorDep,
    days: Annotated[int, Query(ge=1, le=365)] = 30,
    kind: admin_inbox.InboxKind | None = None,
) -> HTMLResponse:
    groups = await run_in_threadpool(admin_inbox.groups, kb, days, 50, kind)
    return page(
        request, "inbox.html", staff, groups=groups, days=days, kind=kind, kinds=KIND_LABELS
    )


@router.post("/inbox/draft")
async def inbox_draft(
    kb: KnowledgeBaseDep, staff: EditorDep, key: Annotated[str, Form(max_length=200)]
) -> RedirectResponse:
    draft = await run_in_threadpool(admin_inbox.draft_faq, kb, key, staff.username)
    if draft is None:
        raise NotFoundError("no such group in the inbox")
    return back_to(f"{SITE_PREFIX}/faq/{draft.faq_id}", "drafted")


@router.post("/inbox/link")
async def inbox_link(
    request: Request,
    kb: KnowledgeBaseDep,
    staff: EditorDep,
    key: Annotated[str, Form(max_length=200)],
    code: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    known = await run_in_threadpool(admin_inbox.known_code, kb, code)
    if known is None:
        groups = await run_in_threadpool(admin_inbox.groups, kb, 30, 50)
        error = _unknown_code(code)
        context = {"groups": groups, "days": 30, "kind": None, "kinds": KIND_LABELS}
        return page(request, "inbox.html", staff, 422, error=error, **context)
    if await run_in_threadpool(admin_inbox.link_group, kb, key, known, staff.username) is None:
        raise NotFoundError("no such group in the inbox")
    return back_to(f"{SITE_PREFIX}/inbox", "linked")


@router.post("/inbox/dismiss")
async def inbox_dismiss(
    kb: KnowledgeBaseDep, staff: EditorDep, key: Annotated[str, Form(max_length=200)]
) -> RedirectResponse:
    await run_in_threadpool(admin_inbox.dismiss, kb, key, staff.username)
    return back_to(f"{SITE_PREFIX}/inbox", "dismissed")


# --- handoff desk ------------------------------------------------------------------------------
@router.get("/handoff")
async def handoff_list(request: Request, chat: ChatDep, staff: EditorDep) -> HTMLResponse:
    waiting = await run_in_threadpool(chat.waiting)
    return page(request, "handoff_list.html", staff, waiting=waiting)


def _handoff_context(
    chat: ChatService, conversation_id: str, waiting_only: bool
) -> dict[str, Any] | None:
    """The transcript, the citizen's questions and procedures to suggest for them."""
    turns = chat.transcript(conversation_id, 0, waiting_only)
    if turns is None:
        return None
    questions = handoff_questions(turns)
    suggestions = admin_inbox.suggest(chat.kb, questions[-1]) if questions else []
    return {"turns": turns, "questions": questions, "suggestions": suggestions}


async def _handoff_page(
    request: Request,
    chat: ChatService,
    staff: Staff,
    conversation_id: str,
    status_code: int = 200,
    error: str = "",
) -> HTMLResponse:
    context = await run_in_threadpool(_handoff_context, chat, conversation_id, editor_limits(staff))
    if context is None:
        raise NotFoundError("unknown conversation")
    return page(
        request,
        "handoff.html",
        staff,
        status_code,
        conversation_id=conversation_id,
        error=error,
        **context,
    )


@router.get("/handoff/{conversation_id}")
async def handoff_conversation(
    request: Request, conversation_id: ConversationId, chat: ChatDep, staff: EditorDep
) -> HTMLResponse:
    if not request.headers.get("hx-request"):
        return await _handoff_page(request, chat, staff, conversation_id)
    # the transcript alone, polled every few seconds: no suggestions to compute
    turns = await run_in_threadpool(chat.transcript, conversation_id, 0, editor_limits(staff))
    if turns is None:
        raise NotFoundError("unknown conversation")
    return page(request, "handoff_turns.html", staff, conversation_id=conversation_id, turns=turns)


@router.post("/handoff/{conversation_id}/reply")
async def handoff_reply(
    request: Request,
    conversation_id: ConversationId,
    chat: ChatDep,
    staff: EditorDep,
    channels: ChannelRepliesDep,
    text: Annotated[str, Form(max_length=4000)],
) -> Response:
    reply = _citizen_text(text)
    if reply is None:
        error = "Nội dung trả lời không được để trống."
        return await _handoff_page(request, chat, staff, conversation_id, 422, error)
    turn = await run_in_threadpool(chat.staff_reply, conversation_id, reply, editor_limits(staff))
    if turn is None:
        raise NotFoundError("unknown conversation")
    await channels.staff_reply(conversation_id, turn.text)  # Zalo: pushed to the citizen
    return back_to(f"{SITE_PREFIX}/handoff/{conversation_id}", "replied")


@router.post("/handoff/{conversation_id}/procedure")
async def handoff_procedure(
    request: Request,
    conversation_id: ConversationId,
    chat: ChatDep,
    staff: EditorDep,
    code: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    known = await run_in_threadpool(admin_inbox.known_code, chat.kb, code)
    if known is None:
        return await _handoff_page(request, chat, staff, conversation_id, 422, _unknown_code(code))
    questions = await run_in_threadpool(
        link_procedure, chat, conversation_id, known, staff.username
    )
    if questions is None:
        raise NotFoundError("unknown conversation")
    if not questions:
        error = "Công dân chưa hỏi câu nào trong hội thoại này để gắn với thủ tục."
        return await _handoff_page(request, chat, staff, conversation_id, 422, error)
    return back_to(f"{SITE_PREFIX}/handoff/{conversation_id}", "procedure")


@router.post("/handoff/{conversation_id}/release")
async def handoff_release(
    conversation_id: ConversationId, chat: ChatDep, _: EditorDep
) -> RedirectResponse:
    if not await run_in_threadpool(chat.release, conversation_id):
        raise NotFoundError("unknown conversation")
    return back_to(f"{SITE_PREFIX}/handoff", "released")


def _tickets(session: Session, status: FeedbackStatus | None) -> list[TicketOut]:
    return [TicketOut.of(t) for t in tickets.list_tickets(session, status)]


# --- feedback and complaints -------------------------------------------------------------------
@router.get("/feedback")
async def feedback_page(
    request: Request,
    kb: KnowledgeBaseDep,
    staff: EditorDep,
    status: Annotated[str, Query(max_length=16)] = "",
) -> HTMLResponse:
    wanted = FeedbackStatus(status) if status in FeedbackStatus._value2member_map_ else None
    rows = await run_in_session(kb, lambda s: _tickets(s, wanted))
    return page(request, "feedback.html", staff, tickets=rows, status=status)


@router.post("/feedback/{number}")
async def feedback_answer(
    request: Request,
    kb: KnowledgeBaseDep,
    staff: EditorDep,
    number: Annotated[str, Path(pattern=r"^PA-\d{4}-\d{6,12}$")],
    status: Annotated[FeedbackStatus, Form()],
    reply: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    text = reply.strip()
    if status is FeedbackStatus.ANSWERED and not text:
        rows = await run_in_session(kb, lambda s: _tickets(s, None))
        return page(
            request,
            "feedback.html",
            staff,
            422,
            tickets=rows,
            status="",
            error=f"{number}: hãy ghi nội dung đã trả lời công dân trước khi đóng góp ý.",
        )
    answered = await run_in_session(
        kb, lambda s: answer_ticket(s, staff.username, number, status, text)
    )
    if answered is None:
        raise NotFoundError(f"no ticket {number}")
    return back_to(f"{SITE_PREFIX}/feedback", "answered")
