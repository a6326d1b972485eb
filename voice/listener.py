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

from knowledge_base.metrics import STT_SECONDS
from voice.audio import FRAME_MS
from voice.capacity import Offered, offer
from voice.frames import AudioIn, CallEnded, DtmfIn, InboundFrame
from voice.stt import RecognitionStream, SpeechRecognizer
from voice.vad import EndpointDetector, VadEvent

PREROLL_MS = 300  # audio kept from before the detector fired, so first syllables are not lost
CHUNK_MS = 100  # audio handed to the recogniser at a time
POLL_S = 0.05
# Every queue of a call is bounded. Inbound audio beyond a second's backlog is dropped at the
# door (voice.capacity.offer); inside, a full queue makes its producer wait.
INBOUND_AUDIO_FRAMES = 50  # 1 s of 20 ms frames
INBOUND_CONTROL_ROOM = 16  # keys and the hang-up, on top of the audio
RECOGNIZER_CHUNKS = 100  # 10 s of speech waiting for a busy recogniser
PENDING_INPUTS = 16  # utterances and keys the call flow has not read yet


@dataclass(frozen=True)
class CallerInput:
    kind: Literal["speech", "dtmf", "hangup"]
    text: str = ""
    speech_ended_at: float = 0.0  # monotonic time of the caller's last voiced frame


_FINAL = b""  # marks the end of an utterance in the recogniser's queue


class Listener:
    def __init__(
        self,
        recognizer: SpeechRecognizer,
        pool: Executor,
        on_barge_in: Callable[[], Awaitable[None]],
        detector: EndpointDetector | None = None,
    ) -> None:
        self.recognizer, self.pool, self.on_barge_in = recognizer, pool, on_barge_in
        self.detector = detector or EndpointDetector()
        self.inbound: asyncio.Queue[InboundFrame] = asyncio.Queue(
            INBOUND_AUDIO_FRAMES + INBOUND_CONTROL_ROOM
        )
        self.dropped_frames = 0  # what the peer sent faster than the call could take it
        self.inputs: asyncio.Queue[CallerInput] = asyncio.Queue(PENDING_INPUTS)
        self._preroll: deque[bytes] = deque(maxlen=PREROLL_MS // FRAME_MS)
        self._chunk = bytearray()
        self._audio: asyncio.Queue[bytes] = asyncio.Queue(RECOGNIZER_CHUNKS)
        self._speech_ended_at = 0.0
        self._stream: RecognitionStream | None = None
        self.ended = asyncio.Event()  # the caller hung up or the line broke

    @property
    def speaking(self) -> bool:
        return self.detector.in_speech

    @property
    def stream(self) -> RecognitionStream:
        if self._stream is None:
            raise RuntimeError("the listener has not been opened")
        return self._stream

    def offer(self, frame: InboundFrame) -> None:
        """What a transport received; never waits (see ``voice.capacity.offer``)."""
        kind: Offered = "control"
        if isinstance(frame, AudioIn):
            kind = "audio"
        elif isinstance(frame, CallEnded):
            kind = "end"
        if not offer(self.inbound, frame, kind, INBOUND_AUDIO_FRAMES):
            self.dropped_frames += 1

    async def open(self) -> None:
        """The caller's recognition stream, made in the pool (engines allocate and read files)."""
        loop = asyncio.get_running_loop()
        self._stream = await loop.run_in_executor(self.pool, self.recognizer.stream)

    async def run(self) -> None:
        """Until the caller hangs up; ``open`` first."""
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
                await self._on_event(self.detector.poll(time.monotonic()))
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
                        await self._audio.put(bytes(self._chunk))
                        self._chunk.clear()
                else:
                    self._preroll.append(frame.pcm)
                if event is VadEvent.SPEECH_STARTED:
                    self._chunk[:0] = b"".join(self._preroll)
                    self._preroll.clear()
                    await self.on_barge_in()
                await self._on_event(event)

    async def _on_event(self, event: VadEvent | None) -> None:
        if event is VadEvent.SPEECH_ENDED:
            if self._chunk:
                await self._audio.put(bytes(self._chunk))
                self._chunk.clear()
            self._speech_ended_at = self.detector.last_voice_at
            await self._audio.put(_FINAL)

    async def _recognize(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            chunk = await self._audio.get()
            if chunk == _FINAL:
                started = time.monotonic()
                text = await loop.run_in_executor(self.pool, self.stream.final)
                STT_SECONDS.observe(time.monotonic() - started)
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
