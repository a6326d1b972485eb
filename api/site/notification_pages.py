"""Staff page of dossier notifications: pending, sent, failed and dead messages, with "Gửi
lại" for those that did not go out and an end to a citizen's subscription on request."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session

from api.deps import KnowledgeBaseDep, ReviewerDep, run_in_session
from api.errors import NotFoundError
from api.schemas import MAX_DB_INT
from api.site.render import SITE_PREFIX, back_to, page
from nlu.notifications import service
from nlu.notifications.models import OutboxStatus

router = APIRouter(prefix=f"{SITE_PREFIX}/notifications", include_in_schema=False)
MessageId = Annotated[int, Path(ge=1, le=MAX_DB_INT)]
STATUS_LABELS = {
    "pending": "Chờ gửi",
    "sending": "Đang gửi",
    "failed": "Lỗi, sẽ thử lại",
    "dead": "Không gửi được",
    "sent": "Đã gửi",
    "cancelled": "Đã hủy",
}
CHANNEL_LABELS = {"sms": "Tin nhắn SMS", "zalo": "Zalo", "web": "Cửa sổ trò chuyện"}


def _context(session: Session, status: OutboxStatus | None) -> dict[str, Any]:
    return {
        "counts": service.counts(session),
        "messages": service.list_messages(session, status, 200),
        "status": status.value if status else "",
        "STATUS_LABELS": STATUS_LABELS,
        "CHANNEL_LABELS": CHANNEL_LABELS,
    }


@router.get("")
async def notifications_page(
    request: Request,
    kb: KnowledgeBaseDep,
    staff: ReviewerDep,
    status: Annotated[str, Query(max_length=16)] = "",
) -> HTMLResponse:
    wanted = OutboxStatus(status) if status in OutboxStatus._value2member_map_ else None
    context = await run_in_session(kb, lambda s: _context(s, wanted))
    return page(request, "notifications.html", staff, **context)


@router.post("/{message_id}/retry")
async def notification_retry(
    message_id: MessageId, kb: KnowledgeBaseDep, staff: ReviewerDep
) -> RedirectResponse:
    if not await run_in_session(kb, lambda s: service.retry(s, message_id, staff.username)):
        raise NotFoundError(f"no failed or dead notification {message_id}")
    return back_to(f"{SITE_PREFIX}/notifications", "retried")


@router.post("/{message_id}/unsubscribe")
async def notification_unsubscribe(
    message_id: MessageId, kb: KnowledgeBaseDep, staff: ReviewerDep
) -> RedirectResponse:
    ended = await run_in_session(
        kb, lambda s: service.unsubscribe_message(s, message_id, staff.username)
    )
    if not ended:
        raise NotFoundError(f"no active subscription behind notification {message_id}")
    return back_to(f"{SITE_PREFIX}/notifications", "unsubscribed")
