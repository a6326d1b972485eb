"""The AudioSocket TCP server: one connection per call from Asterisk, bridged to a CallSession.

A malformed or truncated stream ends that call only; the server keeps serving the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict

from voice.call import CallSession, VoiceServices, say_busy, serve
from voice.frames import (
    AudioOut,
    CallEnded,
    CallStarted,
    HangUp,
    OutboundFrame,
    Transfer,
)
from voice.listener import Listener
from voice.transports.audiosocket import (
    AudioSocketDecoder,
    AudioSocketProtocolError,
    encode_audio,
    encode_hangup,
)

logger = logging.getLogger(__name__)
UUID_TIMEOUT_S = 5.0
READ_BYTES = 4096
FINISHED_KEPT = 1000
SEND_TIMEOUT_S = 5.0  # a peer that reads nothing for this long is gone
MAX_BUSY_PROMPTS = 8  # refused calls told "busy" at once; beyond, they are just hung up


class _Line:
    """The server's side of one connection: frames out, and whether the line is closed."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.closed = asyncio.Event()

    async def send(self, frame: OutboundFrame) -> None:
        if self.closed.is_set():
            return
        if isinstance(frame, AudioOut):
            self.writer.write(encode_audio(frame.pcm))
        elif isinstance(frame, Transfer | HangUp):
            # Transfer: the dialplan continues after AudioSocket() and reads the outcome
            # (GET /api/v1/voice/calls/{uuid}) to route the caller to an operator.
            self.writer.write(encode_hangup())
            self.closed.set()
        else:
            return  # ClearAudio and Mark need nothing: Asterisk plays frames as they arrive
        try:
            async with asyncio.timeout(SEND_TIMEOUT_S):
                await self.writer.drain()
        except (TimeoutError, ConnectionError) as exc:
            logger.warning("audiosocket.peer_gone", extra={"error": repr(exc)})
            self.closed.set()


class AudioSocketServer:
    """Every connection with a UUID takes one of ``services.slots``, the cap it shares with
    the other transports of the process; over the cap, the caller hears it is busy."""

    def __init__(self, services: VoiceServices) -> None:
        self.services = services
        self.active: set[CallSession] = set()
        # call id → outcome of the latest calls, for tests and logs (bounded: a worker runs for
        # months)
        self.finished: OrderedDict[str, str] = OrderedDict()
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self._busy_prompts = 0

    async def start(self, host: str, port: int) -> int:
        self._server = await asyncio.start_server(self._handle, host, port)
        bound: int = self._server.sockets[0].getsockname()[1]
        logger.info("audiosocket.listening", extra={"host": host, "port": bound})
        return bound

    async def close(self, grace_s: float = 10.0) -> None:
        """Stop taking calls; let the calls in progress finish (and be stored) first."""
        if self._server is not None:
            self._server.close()
        if self._handlers:
            await asyncio.wait(self._handlers, timeout=grace_s)
        if self._server is not None:
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
            task.add_done_callback(self._handlers.discard)
        decoder = AudioSocketDecoder()
        try:
            first = await asyncio.wait_for(self._first_frame(reader, decoder), UUID_TIMEOUT_S)
        except (TimeoutError, AudioSocketProtocolError, ConnectionError) as exc:
            logger.warning("audiosocket.refused", extra={"error": str(exc)})
            await _close(writer)
            return
        slot = self.services.slots.try_acquire("audiosocket", first.call_id)
        if slot is None:
            await self._refuse(writer)
            return
        try:
            await self._serve_call(first, decoder, reader, writer)
        finally:
            slot.release()

    async def _refuse(self, writer: asyncio.StreamWriter) -> None:
        line = _Line(writer)
        try:
            if self._busy_prompts < MAX_BUSY_PROMPTS:
                self._busy_prompts += 1
                try:
                    await say_busy(self.services, line.send)
                finally:
                    self._busy_prompts -= 1
            else:
                await line.send(HangUp("busy"))
        finally:
            await _close(writer)

    async def _first_frame(
        self, reader: asyncio.StreamReader, decoder: AudioSocketDecoder
    ) -> CallStarted:
        while True:
            data = await reader.read(READ_BYTES)
            if not data:
                raise ConnectionError("closed before the UUID")
            for frame in decoder.feed(data):
                if isinstance(frame, CallStarted):
                    return frame

    async def _serve_call(
        self,
        started: CallStarted,
        decoder: AudioSocketDecoder,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        line = _Line(writer)
        # AudioSocket carries no caller id: ``started.caller`` is empty unless a peer adds it
        session = CallSession(
            self.services, line.send, started.call_id, "audiosocket", started.caller
        )
        self.active.add(session)
        pump = asyncio.create_task(self._pump(decoder, reader, session.listener, line))
        try:
            await serve(session, line.closed)
        finally:
            pump.cancel()
            await asyncio.gather(pump, return_exceptions=True)
            self.finished[started.call_id] = session.outcome
            while len(self.finished) > FINISHED_KEPT:
                self.finished.popitem(last=False)
            self.active.discard(session)
            await _close(writer)

    async def _pump(
        self,
        decoder: AudioSocketDecoder,
        reader: asyncio.StreamReader,
        listener: Listener,
        line: _Line,
    ) -> None:
        """The caller's frames into the call; audio beyond the listener's small backlog is
        dropped there, so a peer faster than real time costs no memory."""
        try:
            data = b""  # first what arrived in the same read as the UUID
            while True:
                for frame in decoder.feed(data):
                    listener.offer(frame)
                    if isinstance(frame, CallEnded):
                        return
                data = await reader.read(READ_BYTES)
                if not data:
                    break
            decoder.close()
            listener.offer(CallEnded("hangup"))
        except (AudioSocketProtocolError, ConnectionError) as exc:
            logger.warning("audiosocket.bad_stream", extra={"error": str(exc)})
            listener.offer(CallEnded("error"))
            line.closed.set()


async def _close(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        writer.close()
        await writer.wait_closed()
