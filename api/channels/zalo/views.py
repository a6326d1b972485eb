"""``POST /api/v1/channels/zalo/webhook``: Zalo's events, answered at once.

Order of checks: a signature over the raw body (401), the replay window, then the JSON (400),
then idempotency by event id (a redelivery answers 200 and is not processed again). A signed
event outside the window is answered 200 and dropped: Zalo delivers a refused event again with
the same body, which can never become fresh, so refusing it would only bring it back.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from pydantic import BaseModel

from api.channels import ChannelReplies
from api.channels.zalo import events, signature
from api.channels.zalo.service import ZaloChannel
from api.errors import ApiError, NotFoundError, NotReadyError, UnauthorizedError
from api.ratelimit import RateLimiter
from api.schemas import error_responses
from nlu.chat import ChatService

logger = logging.getLogger(__name__)
router = APIRouter(
    prefix="/api/v1/channels/zalo",
    tags=["channels"],
    responses=error_responses(400, 401, 404, 413),
)


class WebhookAnswer(BaseModel):
    status: str  # accepted | duplicate | ignored


def install(app: FastAPI, chat: ChatService, limiter: RateLimiter) -> ZaloChannel | None:
    """The channel on ``app.state.zalo`` (None when disabled); start and stop it with the
    app's lifespan."""
    if not chat.kb.settings.zalo_enabled:
        app.state.zalo = None
        return None
    channel = ZaloChannel(chat, limiter)
    app.state.zalo = channel
    replies: ChannelReplies = app.state.channel_replies
    replies.register("zalo", channel.deliver_staff_reply)
    return channel


def _body(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        body = None
    if not isinstance(body, dict):
        raise ApiError("the body is not a JSON object")
    return body


@router.post("/webhook", response_model=WebhookAnswer, summary="Zalo OA webhook events")
async def webhook(request: Request) -> WebhookAnswer:
    channel: ZaloChannel | None = request.app.state.zalo
    if channel is None:
        raise NotFoundError("the Zalo channel is not enabled")
    settings = channel.settings
    raw = await request.body()
    timestamp = signature.verified_timestamp(
        request.headers.get(signature.HEADER),
        raw,
        settings.zalo_app_id,
        settings.zalo_oa_secret_key,
    )
    if timestamp is None:
        logger.warning("zalo.signature_refused")
        raise UnauthorizedError("missing or wrong X-ZEvent-Signature")
    if not signature.is_fresh(timestamp, time.time(), settings.zalo_replay_window_s):
        logger.warning("zalo.stale_event", extra={"timestamp": timestamp})
        return WebhookAnswer(status="ignored")
    body = _body(raw)
    if str(body.get("timestamp")) != timestamp:  # the signed one must be the event's own
        raise UnauthorizedError("the signed timestamp is not the event's")
    event = events.parse(body, raw)
    if event is None or event.kind is events.Kind.IGNORED:
        return WebhookAnswer(status="ignored")
    queued = await channel.accept(event)
    if queued is None:
        logger.info("zalo.duplicate_event", extra={"event_name": event.name})
        return WebhookAnswer(status="duplicate")
    if not queued:
        raise NotReadyError("busy; deliver the event again later")
    return WebhookAnswer(status="accepted")
