"""Vosk (Kaldi) streaming recognition: the production engine with vosk-model-small-vn-0.4.

Phone audio (8 kHz) is resampled to the model's rate; a phrase list becomes a Vosk grammar
(keypad-style prompts, procedure names), and Kaldi's own endpointing is reported upwards.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from voice.audio import PHONE_RATE, pcm_of, resample
from voice.stt import SpeechModelMissingError

_MODELS: dict[Path, Any] = {}
_LOCK = threading.Lock()
UNKNOWN_WORD = "[unk]"


def load_model(path: Path) -> Any:
    """One loaded model per path per process."""
    with _LOCK:
        if path not in _MODELS:
            try:
                import vosk
            except ImportError as exc:
                raise SpeechModelMissingError("the Vosk engine needs `pip install vosk`") from exc
            if not (path / "am").is_dir() and not (path / "conf").is_dir():
                raise SpeechModelMissingError(
                    f"no Vosk model at {path}: run `hotline voice fetch-vosk-model` where a "
                    "network exists, or set HOTLINE_VOSK_MODEL_PATH"
                )
            vosk.SetLogLevel(-1)
            _MODELS[path] = vosk.Model(str(path))
        return _MODELS[path]


def _model_rate(path: Path) -> int:
    conf = path / "conf" / "mfcc.conf"
    if conf.is_file():
        for line in conf.read_text(encoding="utf-8").splitlines():
            if line.startswith("--sample-frequency="):
                return int(float(line.split("=", 1)[1]))
    return 16000


def _grammar(model: Any, phrases: list[str]) -> str:
    # "[unk]" lets out-of-list speech fall out instead of forcing a phrase, where the model's
    # vocabulary has it.
    extra = [UNKNOWN_WORD] if model.vosk_model_find_word(UNKNOWN_WORD) >= 0 else []
    return json.dumps([*phrases, *extra], ensure_ascii=False)


class VoskStream:
    def __init__(self, recognizer: Any, model_rate: int, model: Any) -> None:
        self._recognizer, self._model = recognizer, model
        self._rate = model_rate
        self._done: list[str] = []

    def accept(self, pcm: bytes) -> bool:
        audio = resample(pcm_of(pcm), PHONE_RATE, self._rate).astype("<i2").tobytes()
        if not self._recognizer.AcceptWaveform(audio):
            return False
        text = json.loads(self._recognizer.Result()).get("text", "").strip()
        if text:
            self._done.append(text)
        return True

    def partial(self) -> str:
        current = json.loads(self._recognizer.PartialResult()).get("partial", "").strip()
        return " ".join([*self._done, current]).strip()

    def final(self) -> str:
        tail = json.loads(self._recognizer.FinalResult()).get("text", "").strip()
        text = " ".join([*self._done, tail]).replace(UNKNOWN_WORD, "").split()
        self._done = []
        self._recognizer.Reset()
        return " ".join(text)

    def set_phrases(self, phrases: list[str] | None) -> None:
        # An empty list returns the recogniser to free speech (the full language model).
        self._recognizer.SetGrammar(_grammar(self._model, phrases) if phrases else "[]")

    def close(self) -> None:
        self._recognizer = None


class VoskRecognizer:
    name = "vosk"

    def __init__(self, model_path: Path) -> None:
        self.model_path = model_path

    def warm_up(self) -> None:
        load_model(self.model_path)

    def stream(self, phrases: list[str] | None = None) -> VoskStream:
        import vosk

        model = load_model(self.model_path)
        rate = _model_rate(self.model_path)
        if phrases:
            recognizer = vosk.KaldiRecognizer(model, rate, _grammar(model, phrases))
        else:
            recognizer = vosk.KaldiRecognizer(model, rate)
        return VoskStream(recognizer, rate, model)
