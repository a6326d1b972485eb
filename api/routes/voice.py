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
from nlu.models import VoiceCall
from voice.call import CallSession, VoiceServices
from voice.frames import CallEnded, CallStarted, HangUp, OutboundFrame, Transfer
from voice.runtime import build_services
from voice.transports.media_stream import MediaStreamProtocolError, MediaStreamSerializer

router = APIRouter(prefix="/api/v1/voice", tags=["voice"])
logger = logging.getLogger(__name__)
START_TIMEOUT_S = 10.0
_BUILD_LOCK = asyncio.Lock()


async def voice_services(app: FastAPI) -> VoiceServices:
    """Speech models load on the first call, off the event loop, once per process."""
    async with _BUILD_LOCK:
        if getattr(app.state, "voice", None) is None:
            state = app.state
            app.state.voice = await run_in_threadpool(
                build_services, state.kb, state.chat, state.actions
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
    if not _allowed(websocket, token):
        await websocket.close(code=1008, reason="wrong or missing token")
        return
    await websocket.accept()
    serializer = MediaStreamSerializer()
    try:
        started = await asyncio.wait_for(_wait_for_start(websocket, serializer), START_TIMEOUT_S)
    except (TimeoutError, MediaStreamProtocolError, WebSocketDisconnect) as exc:
        logger.warning("media_stream.refused", extra={"error": str(exc)})
        with contextlib.suppress(RuntimeError):
            await websocket.close(code=1002)
        return
    services = await voice_services(websocket.app)
    closing = asyncio.Event()

    async def send(frame: OutboundFrame) -> None:
        text = serializer.encode(frame)
        if text is not None and not closing.is_set():
            await websocket.send_text(text)
        if isinstance(frame, Transfer | HangUp):
            closing.set()

    session = CallSession(services, send, started.call_id, "media_stream")
    call = asyncio.create_task(session.run())
    receive = asyncio.create_task(_receive(websocket, serializer, session))
    ending = asyncio.create_task(closing.wait())
    await asyncio.wait({call, ending}, return_when=asyncio.FIRST_COMPLETED)
    if not call.done():
        await session.listener.inbound.put(CallEnded("line_closed"))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(call, 5.0)
    for task in (receive, ending, call):
        task.cancel()
    await asyncio.gather(receive, ending, call, return_exceptions=True)
    with contextlib.suppress(RuntimeError):
        await websocket.close()


async def _wait_for_start(websocket: WebSocket, serializer: MediaStreamSerializer) -> CallStarted:
    while True:
        frame = serializer.decode(await websocket.receive_text())
        if isinstance(frame, CallStarted):
            return frame


async def _receive(
    websocket: WebSocket, serializer: MediaStreamSerializer, session: CallSession
) -> None:
    try:
        while True:
            frame = serializer.decode(await websocket.receive_text())
            if frame is not None:
                await session.listener.inbound.put(frame)
                if isinstance(frame, CallEnded):
                    return
    except (WebSocketDisconnect, RuntimeError):
        await session.listener.inbound.put(CallEnded("hangup"))
    except MediaStreamProtocolError as exc:
        logger.warning("media_stream.bad_message", extra={"error": str(exc)})
        await session.listener.inbound.put(CallEnded("error"))


@router.get("/calls/{call_id}", response_class=PlainTextResponse)
async def call_outcome(
    call_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{8,64}$")], kb: KnowledgeBaseDep
) -> str:
    """``transferred``, ``completed``, ``silence``, ``hung_up``, ``error`` or ``in_progress``:
    plain text, for the dialplan's ``CURL()`` after ``AudioSocket()`` returns."""
    outcome = await run_in_session(
        kb, lambda s: row.outcome if (row := s.get(VoiceCall, call_id)) else None
    )
    if outcome is None:
        raise NotFoundError("unknown call")
    return outcome
