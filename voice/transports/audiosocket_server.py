"""The AudioSocket TCP server: one connection per call from Asterisk, bridged to a CallSession.

A malformed or truncated stream ends that call only; the server keeps serving the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from voice.call import CallSession, VoiceServices
from voice.frames import (
    AudioOut,
    CallEnded,
    CallStarted,
    HangUp,
    InboundFrame,
    OutboundFrame,
    Transfer,
)
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


class AudioSocketServer:
    def __init__(self, services: VoiceServices, max_calls: int = 64) -> None:
        self.services, self.max_calls = services, max_calls
        self.active: dict[str, CallSession] = {}
        # call id → outcome of the latest calls, for tests and logs (bounded: a worker runs for
        # months)
        self.finished: OrderedDict[str, str] = OrderedDict()
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()

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
        if len(self.active) >= self.max_calls:
            logger.warning("audiosocket.busy", extra={"call_id": first.call_id})
            writer.write(encode_hangup())
            await _close(writer)
            return
        await self._serve_call(first, decoder, reader, writer)

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
        closed = asyncio.Event()

        async def send(frame: OutboundFrame) -> None:
            if closed.is_set():
                return
            if isinstance(frame, AudioOut):
                writer.write(encode_audio(frame.pcm))
                await writer.drain()
            elif isinstance(frame, Transfer | HangUp):
                # Transfer: the dialplan continues after AudioSocket() and reads the outcome
                # (GET /api/v1/voice/calls/{uuid}) to route the caller to an operator.
                writer.write(encode_hangup())
                await writer.drain()
                closed.set()
            # ClearAudio and Mark need nothing: Asterisk plays frames as they arrive.

        session = CallSession(self.services, send, started.call_id, "audiosocket")
        self.active[started.call_id] = session
        pump = asyncio.create_task(self._pump(decoder, reader, session.listener.inbound.put))
        call = asyncio.create_task(session.run())
        line_closed = asyncio.create_task(closed.wait())
        try:
            await asyncio.wait({call, line_closed}, return_when=asyncio.FIRST_COMPLETED)
            if not call.done():
                await session.listener.inbound.put(CallEnded("line_closed"))
                await asyncio.wait_for(call, 5.0)
        except TimeoutError:
            call.cancel()
        finally:
            pump.cancel()
            line_closed.cancel()
            await asyncio.gather(pump, call, line_closed, return_exceptions=True)
            self.finished[started.call_id] = session.outcome
            while len(self.finished) > FINISHED_KEPT:
                self.finished.popitem(last=False)
            self.active.pop(started.call_id, None)
            await _close(writer)

    async def _pump(
        self,
        decoder: AudioSocketDecoder,
        reader: asyncio.StreamReader,
        deliver: Callable[[InboundFrame], Awaitable[None]],
    ) -> None:
        try:
            data = b""  # first what arrived in the same read as the UUID
            while True:
                for frame in decoder.feed(data):
                    await deliver(frame)
                    if isinstance(frame, CallEnded):
                        return
                data = await reader.read(READ_BYTES)
                if not data:
                    break
            decoder.close()
            await deliver(CallEnded("hangup"))
        except (AudioSocketProtocolError, ConnectionError) as exc:
            logger.warning("audiosocket.bad_stream", extra={"error": str(exc)})
            await deliver(CallEnded("error"))


async def _close(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        writer.close()
        await writer.wait_closed()
