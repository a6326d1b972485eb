"""Paced playback: answer audio leaves in 20 ms frames at real time, so that a barge-in can
stop it at once (only what is already sent plays on)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable

from voice.audio import FRAME_BYTES, FRAME_MS
from voice.frames import AudioOut, ClearAudio, OutboundFrame

logger = logging.getLogger(__name__)
Send = Callable[[OutboundFrame], Awaitable[None]]
LEAD_FRAMES = 2  # sent ahead of real time to absorb network jitter (40 ms)
MAX_QUEUED_FRAMES = 5 * 60 * 1000 // FRAME_MS  # five minutes of speech; longer is cut short


class Player:
    def __init__(self, send: Send) -> None:
        self._send = send
        self._frames: deque[bytes] = deque()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._sending = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.first_frame_at: float | None = None  # monotonic time the last play() began sending
        self.clears = 0  # barge-ins so far: a continuation queued after one is dropped

    @property
    def playing(self) -> bool:
        return not self._idle.is_set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._pump(), name="playback")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def enqueue(self, pcm: bytes, continuation: bool = False) -> None:
        """Queue audio; ``continuation`` appends the rest of an answer to its first part."""
        room = (MAX_QUEUED_FRAMES - len(self._frames)) * FRAME_BYTES
        if len(pcm) > room:
            logger.warning("voice.playback_truncated", extra={"dropped_bytes": len(pcm) - room})
            pcm = pcm[: max(0, room)]
        for start in range(0, len(pcm), FRAME_BYTES):
            frame = pcm[start : start + FRAME_BYTES]
            self._frames.append(frame.ljust(FRAME_BYTES, b"\x00"))
        if not self._frames:
            return
        if not continuation:
            self._sending.clear()
            self.first_frame_at = None
        self._idle.clear()
        self._wake.set()

    async def clear(self) -> None:
        """Barge-in: drop what is queued and tell the transport to drop what it buffered."""
        self._frames.clear()
        self.clears += 1
        self._idle.set()
        self._sending.set()
        await self._send(ClearAudio())

    async def wait_done(self) -> None:
        await self._idle.wait()

    async def wait_sending(self) -> None:
        """Until the first frame of what was queued last is on its way (or it was cleared)."""
        await self._sending.wait()

    async def _pump(self) -> None:
        frame_s = FRAME_MS / 1000
        while True:
            await self._wake.wait()
            self._wake.clear()
            started = time.monotonic()
            sent = 0
            while self._frames:
                due = started + (sent - LEAD_FRAMES) * frame_s
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                if not self._frames:
                    break
                if self.first_frame_at is None:
                    self.first_frame_at = time.monotonic()
                    self._sending.set()
                await self._send(AudioOut(self._frames.popleft()))
                sent += 1
            # Let the frames already sent finish playing before calling the prompt done.
            remaining = started + sent * frame_s - time.monotonic()
            if remaining > 0 and not self._idle.is_set():
                await asyncio.sleep(remaining)
            if not self._frames:
                self._idle.set()
