"""viet-asr (``pip install viet-asr``, import ``vietasr``): a Vietnamese streaming model bundled
in the wheel, run with ONNX Runtime. Only its recogniser module is used: its VAD downloads."""

from __future__ import annotations

import atexit
import threading
from typing import Any

import numpy as np

from voice.audio import PHONE_RATE
from voice.stt import SpeechModelMissingError

_PIPELINE: Any = None
_LOCK = threading.Lock()


def _pipeline() -> Any:
    """One loaded model per process, shared by every call's session."""
    global _PIPELINE
    with _LOCK:
        if _PIPELINE is None:
            try:
                import vietasr
            except ImportError as exc:
                raise SpeechModelMissingError(
                    "the viet-asr engine needs `pip install viet-asr==0.1.0.dev11`"
                ) from exc
            _PIPELINE = vietasr.Pipeline.new().add("vietasr").build()
            # Free it while cffi is still whole; its __del__ at interpreter exit is too late.
            atexit.register(_PIPELINE.close)
        return _PIPELINE


class VietAsrStream:
    def __init__(self, session: Any) -> None:
        self._session = session
        self._heard = False

    def accept(self, pcm: bytes) -> bool:
        samples = np.frombuffer(pcm, dtype="<i2").astype(np.int16)
        if samples.size:
            self._session.accept(np.ascontiguousarray(samples))
            self._heard = True
        return False  # this engine does no endpointing of its own; the VAD does

    def partial(self) -> str:
        return str(self._session.partial().text).strip() if self._heard else ""

    def final(self) -> str:
        text = str(self._session.final().text).strip() if self._heard else ""
        self._session.reset()
        self._heard = False
        return text

    def set_phrases(self, phrases: list[str] | None) -> None:
        return None  # no grammar in this engine; the call flow reads digits from free text

    def close(self) -> None:
        self._session.close()


class VietAsrRecognizer:
    name = "viet-asr"

    def warm_up(self) -> None:
        _pipeline()

    def stream(self, phrases: list[str] | None = None) -> VietAsrStream:
        # The engine has no grammar; phrases are matched after recognition by the call flow.
        return VietAsrStream(_pipeline().stream(sample_rate=float(PHONE_RATE)))
