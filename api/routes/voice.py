"""The phone line over WebSocket media streams (Twilio's shape), and each call's outcome for
the dialplan (transfer to an operator, or not)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from typing import Annotated

from fastapi import APIRouter, FastAPI, Path, Query, WebSocket, WebSocketDisconnect
from fastapi.responses import PlainTextResponse
from starlette.concurrency import run_in_threadpool

from api.deps import KnowledgeBaseDep, run_in_session
from api.errors import NotFoundError
from api.routes.rasa_webhook import LOOPBACK
from api.schemas import error_refs
from nlu.models import VoiceCall
from nlu.notifications.service import SmsOutbox
from voice.call import CallSession, VoiceServices, serve
from voice.frames import CallEnded, CallStarted, HangUp, OutboundFrame, Transfer
from voice.runtime import build_services
from voice.transports.media_stream import (
    MediaStreamProtocolError,
    MediaStreamSerializer,
    MediaStreamTooLargeError,
)

router = APIRouter(prefix="/api/v1/voice", tags=["voice"], responses=error_refs(404, 422))
logger = logging.getLogger(__name__)
START_TIMEOUT_S = 10.0
SEND_TIMEOUT_S = 5.0  # a provider that takes no audio for this long is gone
_BUILD_LOCK = asyncio.Lock()
# RFC 6455 close codes
POLICY_VIOLATION, PROTOCOL_ERROR, TOO_BIG, TRY_AGAIN_LATER = 1008, 1002, 1009, 1013


async def voice_services(app: FastAPI) -> VoiceServices:
    """Speech models load on the first call, off the event loop, once per process."""
    async with _BUILD_LOCK:
        if getattr(app.state, "voice", None) is None:
            state = app.state
            outbox = SmsOutbox(state.kb.engine, state.kb.settings)
            app.state.voice = await run_in_threadpool(
                build_services, state.kb, state.chat, state.actions, outbox=outbox
            )
    services: VoiceServices = app.state.voice
    return services


def _allowed(websocket: WebSocket, token: str) -> bool:
    expected = websocket.app.state.kb.settings.voice_stream_token
    if expected:
        return secrets.compare_digest(token.encode(), expected.encode())
    return (websocket.client.host if websocket.client else "") in LOOPBACK


@router.websocket("/stream")
async def media_stream(websocket: WebSocket, token: Annotated[str, Query()] = "") -> None:
    """One call per connection, under the cap the process's transports share: over it the
    stream is closed with 1013 (try again later) and the provider plays its own fallback."""
    if not _allowed(websocket, token):
        await websocket.close(code=POLICY_VIOLATION, reason="wrong or missing token")
        return
    await websocket.accept()
    services = await voice_services(websocket.app)
    slot = services.slots.try_acquire("media_stream")
    if slot is None:
        await _close(websocket, TRY_AGAIN_LATER, "the line is busy")
        return
    try:
        await _serve_stream(websocket, services)
    finally:
        slot.release()


async def _serve_stream(websocket: WebSocket, services: VoiceServices) -> None:
    serializer = MediaStreamSerializer()
    try:
        started = await asyncio.wait_for(_wait_for_start(websocket, serializer), START_TIMEOUT_S)
    except (TimeoutError, MediaStreamProtocolError, WebSocketDisconnect) as exc:
        logger.warning("media_stream.refused", extra={"error": str(exc)})
        await _close(websocket, _close_code(exc))
        return
    closing = asyncio.Event()

    async def send(frame: OutboundFrame) -> None:
        text = serializer.encode(frame)
        if text is not None and not closing.is_set():
            try:
                async with asyncio.timeout(SEND_TIMEOUT_S):
                    await websocket.send_text(text)
            except (TimeoutError, OSError, RuntimeError, WebSocketDisconnect) as exc:
                logger.warning("media_stream.peer_gone", extra={"error": repr(exc)})
                closing.set()
        if isinstance(frame, Transfer | HangUp):
            closing.set()

    session = CallSession(
        services, send, started.call_id, "media_stream", caller_number=started.caller
    )
    receive = asyncio.create_task(_receive(websocket, serializer, session, closing))
    try:
        await serve(session, closing)
    finally:
        receive.cancel()
        await asyncio.gather(receive, return_exceptions=True)
    code = receive.result() if receive.done() and not receive.cancelled() else 1000
    await _close(websocket, code)


async def _receive_text(websocket: WebSocket) -> str:
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000), message.get("reason"))
    text = message.get("text")
    if not isinstance(text, str):
        raise MediaStreamProtocolError("a binary message; media-stream events are JSON text")
    return text


async def _wait_for_start(websocket: WebSocket, serializer: MediaStreamSerializer) -> CallStarted:
    while True:
        frame = serializer.decode(await _receive_text(websocket))
        if isinstance(frame, CallStarted):
            return frame


async def _receive(
    websocket: WebSocket,
    serializer: MediaStreamSerializer,
    session: CallSession,
    closing: asyncio.Event,
) -> int:
    """The provider's events into the call, until it stops; the close code to answer with."""
    try:
        while True:
            frame = serializer.decode(await _receive_text(websocket))
            if frame is not None:
                session.listener.offer(frame)
                if isinstance(frame, CallEnded):
                    return 1000
    except (WebSocketDisconnect, RuntimeError):
        session.listener.offer(CallEnded("hangup"))
        return 1000
    except MediaStreamProtocolError as exc:
        logger.warning(
            "media_stream.bad_message", extra={"call_id": session.call_id, "error": str(exc)}
        )
        session.listener.offer(CallEnded("error"))
        closing.set()
        return _close_code(exc)


def _close_code(exc: Exception) -> int:
    return TOO_BIG if isinstance(exc, MediaStreamTooLargeError) else PROTOCOL_ERROR


async def _close(websocket: WebSocket, code: int, reason: str | None = None) -> None:
    with contextlib.suppress(RuntimeError, OSError):
        await websocket.close(code=code, reason=reason)


@router.get("/calls/{call_id}", response_class=PlainTextResponse)
async def call_outcome(
    call_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{8,64}$")], kb: KnowledgeBaseDep
) -> str:
    """``transferred``, ``completed``, ``silence``, ``time_limit``, ``hung_up``, ``error`` or
    ``in_progress``: plain text, for the dialplan's ``CURL()`` after ``AudioSocket()``."""
    outcome = await run_in_session(
        kb, lambda s: row.outcome if (row := s.get(VoiceCall, call_id)) else None
    )
    if outcome is None:
        raise NotFoundError("unknown call")
    return outcome
