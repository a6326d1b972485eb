"""Speech engines: espeak-ng (Debian package, Vietnamese voices), a Piper voice when one is
supplied, and a prompt cache for the fixed phrases of the call flow."""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from knowledge_base.metrics import TTS_SECONDS
from voice.audio import PHONE_RATE, pcm_of, resample
from voice.tts import SpeechEngineMissingError, SpeechSynthesizer
from voice.tts.speech_text import speech_text

ESPEAK_VOICES = ("vi", "vi-vn-x-central", "vi-vn-x-south")
SYNTH_TIMEOUT_S = 20
_VARIANT_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,15}")


def _wav_payload(wav: bytes) -> tuple[bytes, int]:
    """PCM and sample rate of a RIFF/WAVE file whose size fields may be unset (a pipe)."""
    if wav[:4] != b"RIFF" or wav[8:12] != b"WAVE":
        raise SpeechEngineMissingError("the speech engine did not return WAV audio")
    position, rate = 12, 22050
    while position + 8 <= len(wav):
        chunk, size = (
            wav[position : position + 4],
            int.from_bytes(wav[position + 4 : position + 8], "little"),
        )
        body = position + 8
        if chunk == b"fmt ":
            rate = int.from_bytes(wav[body + 4 : body + 8], "little")
        elif chunk == b"data":
            return wav[body:], rate  # to the end: piped output leaves the size at 0 or 0xFFFFFFFF
        position = body + size + (size % 2)
    raise SpeechEngineMissingError("WAV audio without a data chunk")


class EspeakSynthesizer:
    name = "espeak-ng"

    def __init__(
        self,
        voice: str = "vi",
        words_per_minute: int = 130,  # rate, pitch and word gap: benchmarks/voice_intelligibility.py
        pitch: int = 55,
        word_gap: int = 6,
        variant: str = "",
    ) -> None:
        if voice not in ESPEAK_VOICES:
            raise ValueError(f"espeak-ng voice must be one of {', '.join(ESPEAK_VOICES)}")
        if variant and not _VARIANT_RE.fullmatch(variant):
            raise ValueError("an espeak-ng variant is a short name such as m3 or f2")
        self.voice, self.words_per_minute = voice, words_per_minute
        self.pitch, self.word_gap, self.variant = pitch, word_gap, variant
        self._binary: str | None = None

    def arguments(self) -> list[str]:
        """The voice options of the command line (word gap in units of 10 ms)."""
        voice = f"{self.voice}+{self.variant}" if self.variant else self.voice
        options = ["-v", voice, "-s", str(self.words_per_minute), "-p", str(self.pitch)]
        return options + (["-g", str(self.word_gap)] if self.word_gap else [])

    def warm_up(self) -> None:
        self._binary = shutil.which("espeak-ng")
        if self._binary is None:
            raise SpeechEngineMissingError("Vietnamese speech needs `apt-get install espeak-ng`")

    def synthesize(self, text: str) -> bytes:
        if self._binary is None:
            self.warm_up()
        assert self._binary is not None
        completed = subprocess.run(
            [self._binary, *self.arguments(), "--stdout", "--", text],
            capture_output=True,
            timeout=SYNTH_TIMEOUT_S,
            check=True,
        )
        pcm, rate = _wav_payload(completed.stdout)
        return resample(pcm_of(pcm), rate, PHONE_RATE).astype("<i2").tobytes()


class PiperSynthesizer:
    """A Piper voice (``pip install piper-tts`` and a ``.onnx`` voice file supplied by the
    province); the voice file is never downloaded at run time."""

    name = "piper"

    def __init__(self, model_path: Path) -> None:
        self.model_path = model_path
        self._voice: Any = None

    def warm_up(self) -> None:
        try:
            from piper import PiperVoice
        except ImportError as exc:
            raise SpeechEngineMissingError("a Piper voice needs `pip install piper-tts`") from exc
        if not self.model_path.is_file():
            raise SpeechEngineMissingError(f"no Piper voice file at {self.model_path}")
        self._voice = PiperVoice.load(str(self.model_path))

    def synthesize(self, text: str) -> bytes:
        if self._voice is None:
            self.warm_up()
        import io
        import wave

        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as out:
            self._voice.synthesize_wav(text, out)
        pcm, rate = _wav_payload(buffer.getvalue())
        return resample(pcm_of(pcm), rate, PHONE_RATE).astype("<i2").tobytes()


PROMPT_PAUSE = b"\x00" * (PHONE_RATE // 4 * 2)  # 250 ms between recorded prompts said together


def _key(text: str) -> str:
    return " ".join(text.split())


class SpokenText:
    """Normalises text for the ear, then synthesises; fixed prompts come from a cache, or from
    a person's recordings where a prompt pack supplies them."""

    def __init__(self, engine: SpeechSynthesizer, cache_size: int = 256) -> None:
        self.engine = engine
        self._cache: OrderedDict[str, bytes] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self._recorded: dict[str, bytes] = {}

    def use_recordings(self, recorded: dict[str, bytes]) -> None:
        """Prompt text → recorded 8 kHz audio, played instead of synthesis for that exact text
        or for a text made only of recorded prompts one after another."""
        self._recorded = {_key(text): audio for text, audio in recorded.items() if audio}

    def recording(self, text: str) -> bytes | None:
        key = _key(text)
        if not self._recorded or not key:
            return None
        if (whole := self._recorded.get(key)) is not None:
            return whole
        parts: list[bytes] = []
        while key:  # "Phím này chưa được hỗ trợ. Bấm phím 1 …": two recordings in a row
            for prompt in sorted(self._recorded, key=len, reverse=True):
                if key == prompt or key.startswith(prompt + " "):
                    parts.append(self._recorded[prompt])
                    key = key[len(prompt) :].lstrip()
                    break
            else:
                return None  # partly recorded: one voice for the whole sentence
        return PROMPT_PAUSE.join(parts)

    def warm_up(self, prompts: list[str]) -> None:
        self.engine.warm_up()
        for prompt in prompts:
            self.say(prompt, cache=True)

    def cached(self, text: str) -> bytes | None:
        """A fixed prompt's audio if it is recorded or cached; never synthesises (safe on the
        event loop)."""
        if (recorded := self.recording(text)) is not None:
            return recorded
        spoken = speech_text(text)
        with self._lock:
            hit = self._cache.get(spoken)
            if hit is not None:
                self._cache.move_to_end(spoken)
            return hit

    def say(self, text: str, cache: bool = False) -> bytes:
        if (known := self.cached(text)) is not None:
            return known
        spoken = speech_text(text)
        with TTS_SECONDS.time():
            audio = self.engine.synthesize(spoken)
        if cache:
            with self._lock:
                self._cache[spoken] = audio
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return audio
