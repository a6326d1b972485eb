"""The caller's side of a call: voice activity, barge-in, keypad digits, and streaming
recognition in a worker pool (never on the event loop)."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Literal

from voice.audio import FRAME_MS
from voice.frames import AudioIn, CallEnded, DtmfIn, InboundFrame
from voice.stt import RecognitionStream
from voice.vad import EndpointDetector, VadEvent

PREROLL_MS = 300  # audio kept from before the detector fired, so first syllables are not lost
CHUNK_MS = 100  # audio handed to the recogniser at a time
POLL_S = 0.05


@dataclass(frozen=True)
class CallerInput:
    kind: Literal["speech", "dtmf", "hangup"]
    text: str = ""
    speech_ended_at: float = 0.0  # monotonic time of the caller's last voiced frame


_FINAL = b""  # marks the end of an utterance in the recogniser's queue


class Listener:
    def __init__(
        self,
        stream: RecognitionStream,
        pool: Executor,
        on_barge_in: Callable[[], Awaitable[None]],
        detector: EndpointDetector | None = None,
    ) -> None:
        self.stream, self.pool, self.on_barge_in = stream, pool, on_barge_in
        self.detector = detector or EndpointDetector()
        self.inbound: asyncio.Queue[InboundFrame] = asyncio.Queue()
        self.inputs: asyncio.Queue[CallerInput] = asyncio.Queue()
        self._preroll: deque[bytes] = deque(maxlen=PREROLL_MS // FRAME_MS)
        self._chunk = bytearray()
        self._audio: asyncio.Queue[bytes] = asyncio.Queue()
        self._speech_ended_at = 0.0
        self.ended = asyncio.Event()  # the caller hung up or the line broke

    @property
    def speaking(self) -> bool:
        return self.detector.in_speech

    async def run(self) -> None:
        recognizer = asyncio.create_task(self._recognize(), name="recognizer")
        try:
            await self._listen()
        finally:
            recognizer.cancel()
            await asyncio.gather(recognizer, return_exceptions=True)
            await asyncio.get_running_loop().run_in_executor(self.pool, self.stream.close)

    async def _listen(self) -> None:
        while True:
            try:
                frame = await asyncio.wait_for(self.inbound.get(), POLL_S)
            except TimeoutError:  # no frames: Asterisk is quiet while the caller is
                self._on_event(self.detector.poll(time.monotonic()))
                continue
            if isinstance(frame, CallEnded):
                self.ended.set()
                await self.on_barge_in()  # nobody is listening any more
                await self.inputs.put(CallerInput("hangup", frame.reason))
                return
            if isinstance(frame, DtmfIn):
                await self.on_barge_in()
                await self.inputs.put(CallerInput("dtmf", frame.digit))
            elif isinstance(frame, AudioIn):
                event = self.detector.feed(frame.pcm, time.monotonic())
                if self.detector.in_speech or event is VadEvent.SPEECH_ENDED:
                    self._chunk.extend(frame.pcm)
                    if len(self._chunk) >= CHUNK_MS * 16:
                        self._audio.put_nowait(bytes(self._chunk))
                        self._chunk.clear()
                else:
                    self._preroll.append(frame.pcm)
                if event is VadEvent.SPEECH_STARTED:
                    self._chunk[:0] = b"".join(self._preroll)
                    self._preroll.clear()
                    await self.on_barge_in()
                self._on_event(event)

    def _on_event(self, event: VadEvent | None) -> None:
        if event is VadEvent.SPEECH_ENDED:
            if self._chunk:
                self._audio.put_nowait(bytes(self._chunk))
                self._chunk.clear()
            self._speech_ended_at = self.detector.last_voice_at
            self._audio.put_nowait(_FINAL)

    async def _recognize(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            chunk = await self._audio.get()
            if chunk == _FINAL:
                text = await loop.run_in_executor(self.pool, self.stream.final)
                await self.inputs.put(CallerInput("speech", text, self._speech_ended_at))
            else:
                await loop.run_in_executor(self.pool, self.stream.accept, chunk)

    async def next_input(self, silence_s: float) -> CallerInput | None:
        """The caller's next turn, or None after ``silence_s`` without speech or keys."""
        deadline = time.monotonic() + silence_s
        while True:
            remaining = deadline - time.monotonic()
            try:
                return await asyncio.wait_for(self.inputs.get(), max(0.0, remaining))
            except TimeoutError:
                if self.speaking or not self._audio.empty():
                    deadline = time.monotonic() + 1.0  # still talking or being recognised
                    continue
                return None

    def drain(self) -> None:
        """Forget inputs that arrived while the line was talking over them (after a clear)."""
        while not self.inputs.empty():
            self.inputs.get_nowait()
