"""A simulated caller speaking AudioSocket, as Asterisk would: for tests, the SIP bridge and the
load benchmark. Audio goes out paced at real time; what comes back is timestamped."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from voice.audio import FRAME_BYTES, FRAME_MS
from voice.transports.audiosocket import (
    HEADER,
    KIND_AUDIO,
    KIND_HANGUP,
    encode_audio,
    encode_dtmf,
    encode_hangup,
    encode_uuid,
)


@dataclass
class AudioSocketCaller:
    call_id: uuid.UUID = field(default_factory=uuid.uuid4)
    received: bytearray = field(default_factory=bytearray)
    audio_times: list[float] = field(default_factory=list)  # monotonic arrival of each frame
    hung_up: asyncio.Event = field(default_factory=asyncio.Event)
    on_audio: Callable[[bytes], None] | None = None  # instead of keeping what is received
    _writer: asyncio.StreamWriter | None = None
    _reader_task: asyncio.Task[None] | None = None

    async def connect(self, host: str, port: int) -> None:
        reader, self._writer = await asyncio.open_connection(host, port)
        self._writer.write(encode_uuid(self.call_id))
        await self._writer.drain()
        self._reader_task = asyncio.create_task(self._read(reader))

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                header = await reader.readexactly(HEADER.size)
                kind, length = HEADER.unpack(header)
                payload = await reader.readexactly(length) if length else b""
                if kind == KIND_AUDIO and self.on_audio is not None:
                    self.on_audio(payload)
                elif kind == KIND_AUDIO:
                    self.received.extend(payload)
                    self.audio_times.append(time.monotonic())
                elif kind == KIND_HANGUP:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        self.hung_up.set()

    async def send_raw(self, data: bytes) -> None:
        assert self._writer is not None
        self._writer.write(data)
        await self._writer.drain()

    async def send_frame(self, pcm: bytes) -> None:
        await self.send_raw(encode_audio(pcm))

    async def speak(self, pcm: bytes, realtime: bool = True) -> float:
        """Send 8 kHz audio in 20 ms frames; returns the monotonic time the last frame left."""
        started = time.monotonic()
        for index, start in enumerate(range(0, len(pcm), FRAME_BYTES)):
            if self.hung_up.is_set():
                break
            frame = pcm[start : start + FRAME_BYTES].ljust(FRAME_BYTES, b"\x00")
            await self.send_raw(encode_audio(frame))
            if realtime:
                delay = started + (index + 1) * FRAME_MS / 1000 - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
        return time.monotonic()

    async def press(self, digit: str) -> None:
        await self.send_raw(encode_dtmf(digit))

    def audio_after(self, moment: float) -> float | None:
        """Arrival time of the first audio frame after ``moment``."""
        return next((t for t in self.audio_times if t > moment), None)

    async def wait_for_audio_after(self, moment: float, within_s: float) -> float | None:
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            found = self.audio_after(moment)
            if found is not None:
                return found
            await asyncio.sleep(0.01)
        return None

    async def wait_quiet(self, quiet_s: float, within_s: float) -> None:
        """Until no audio has arrived for ``quiet_s`` (the line finished talking)."""
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline and not self.hung_up.is_set():
            last = self.audio_times[-1] if self.audio_times else 0.0
            if self.audio_times and time.monotonic() - last >= quiet_s:
                return
            await asyncio.sleep(0.02)

    async def hang_up(self) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            await self.send_raw(encode_hangup())
        await self.close()

    async def close(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(ConnectionError, OSError):
                self._writer.close()
                await self._writer.wait_closed()
        if self._reader_task is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._reader_task, 2.0)
