"""End-of-utterance detection for phone audio: an energy detector with an adaptive noise floor.

Time comes from the caller (``now`` in seconds), not from the audio, because Asterisk sends no
frames at all while the caller is silent: ``poll`` ends an utterance when frames stop coming.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from voice.audio import FRAME_MS, pcm_of, rms_dbfs


class VadEvent(enum.Enum):
    SPEECH_STARTED = "speech_started"
    SPEECH_ENDED = "speech_ended"


@dataclass
class EndpointSettings:
    start_ms: int = 100  # voiced audio needed to call it speech (barge-in reacts after this)
    hangover_ms: int = 450  # silence that ends an utterance (benchmarks/voice_load.py)
    digits_hangover_ms: int = 1300  # while a caller reads out a code or phone number
    max_utterance_s: float = 20.0
    min_level_dbfs: float = -48.0
    above_floor_db: float = 12.0


@dataclass
class EndpointDetector:
    settings: EndpointSettings = field(default_factory=EndpointSettings)
    digits_mode: bool = False
    noise_floor_dbfs: float = -60.0
    in_speech: bool = False
    _voiced_ms: int = 0
    _last_voice_at: float = 0.0
    _started_at: float = 0.0

    @property
    def last_voice_at(self) -> float:
        return self._last_voice_at

    @property
    def hangover_s(self) -> float:
        s = self.settings
        return (s.digits_hangover_ms if self.digits_mode else s.hangover_ms) / 1000

    def _is_voiced(self, level: float) -> bool:
        threshold = max(
            self.settings.min_level_dbfs, self.noise_floor_dbfs + self.settings.above_floor_db
        )
        return level >= threshold

    def feed(self, pcm: bytes, now: float) -> VadEvent | None:
        level = rms_dbfs(pcm_of(pcm))
        voiced = self._is_voiced(level)
        if not voiced:
            # The floor follows quiet audio quickly and loud audio slowly.
            rate = 0.2 if level < self.noise_floor_dbfs else 0.01
            self.noise_floor_dbfs += rate * (level - self.noise_floor_dbfs)
        if not self.in_speech:
            self._voiced_ms = (
                self._voiced_ms + FRAME_MS if voiced else max(0, self._voiced_ms - FRAME_MS)
            )
            if self._voiced_ms >= self.settings.start_ms:
                self.in_speech, self._started_at, self._last_voice_at = True, now, now
                return VadEvent.SPEECH_STARTED
            return None
        if voiced:
            self._last_voice_at = now
        return self.poll(now)

    def poll(self, now: float) -> VadEvent | None:
        """End the utterance after enough silence, whether or not frames keep arriving."""
        if not self.in_speech:
            return None
        too_long = now - self._started_at >= self.settings.max_utterance_s
        if now - self._last_voice_at >= self.hangover_s or too_long:
            self.in_speech, self._voiced_ms = False, 0
            return VadEvent.SPEECH_ENDED
        return None
