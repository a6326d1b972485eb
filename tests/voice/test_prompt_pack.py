"""Recorded prompt packs: WAV files of any PCM shape converted to 8 kHz mono at load, unusable
ones refused with a log line, recordings played instead of synthesis on a real call, the rest
synthesised; the export of prompt ids for the voice talent."""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import struct
import wave
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from api.cli.main import app as cli
from tests.voice.conftest import scripted_services
from voice import prompts
from voice.audio import PHONE_RATE, pcm_of, resample
from voice.prompt_pack import PromptFileError, load_prompt_pack, read_prompt_wav
from voice.runtime import build_speech
from voice.transports.audiosocket_client import AudioSocketCaller
from voice.transports.audiosocket_server import AudioSocketServer
from voice.tts.speech_text import speech_text


def write_wav(
    path: Path, rate: int, channels: int = 1, width: int = 2, seconds: float = 0.5
) -> np.ndarray:
    """A 440 Hz tone (the right channel quieter); returns the mono 16-bit signal it holds."""
    t = np.arange(int(rate * seconds)) / rate
    mono = np.sin(2 * np.pi * 440 * t) * 12000
    columns = [mono] if channels == 1 else [mono, mono * 0.5]
    stereo = np.stack(columns, axis=1)
    if width == 1:
        data = (np.round(stereo / 256) + 128).astype(np.uint8).tobytes()
    elif width == 2:
        data = np.round(stereo).astype("<i2").tobytes()
    else:
        data = np.round(stereo * 65536).astype("<i4").tobytes()
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(width)
        out.setframerate(rate)
        out.writeframes(data)
    return np.round(stereo.mean(axis=1))


def float_wav(path: Path) -> None:
    """IEEE float (format 3): not PCM, which the wave module refuses."""
    data = np.zeros(800, dtype="<f4").tobytes()
    fmt = struct.pack("<HHIIHH", 3, 1, 8000, 32000, 4, 32)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(data)) + data
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)


@pytest.mark.parametrize(
    ("rate", "channels", "width"),
    [(8000, 1, 2), (16000, 1, 2), (22050, 2, 2), (44100, 2, 2), (48000, 1, 4), (8000, 1, 1)],
)
def test_any_pcm_wav_becomes_8khz_mono(tmp_path, rate, channels, width):
    path = tmp_path / "menu.wav"
    mono = write_wav(path, rate, channels, width)
    pcm = pcm_of(read_prompt_wav(path))
    assert abs(pcm.size - PHONE_RATE * 0.5) <= 1
    expected = resample(np.clip(mono, -32768, 32767).astype(np.int16), rate, PHONE_RATE)
    tolerance = 300 if width == 1 else 2  # 8-bit audio keeps 8 bits
    assert np.max(np.abs(pcm.astype(int) - expected.astype(int))) <= tolerance


def test_unusable_files_are_refused(tmp_path):
    float_wav(tmp_path / "a.wav")
    (tmp_path / "b.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    (tmp_path / "c.wav").write_bytes(b"")
    write_wav(tmp_path / "d.wav", 44100, seconds=0.0)
    for name in "abcd":
        with pytest.raises(PromptFileError):
            read_prompt_wav(tmp_path / f"{name}.wav")


def test_pack_loads_usable_prompts_and_logs_the_rest(tmp_path, caplog):
    write_wav(tmp_path / "menu.wav", 44100, channels=2)
    write_wav(tmp_path / "GOODBYE.wav", 8000)  # ids are case-sensitive: an unknown file
    float_wav(tmp_path / "reprompt.wav")
    (tmp_path / "notes.txt").write_text("not audio")
    with caplog.at_level(logging.INFO, logger="voice.prompt_pack"):
        recorded = load_prompt_pack(tmp_path, prompts.prompt_texts("Đà Nẵng"))
    assert set(recorded) == {"menu"}
    messages = {r.message: r for r in caplog.records}
    rejected = messages["voice.prompt_rejected"]
    assert rejected.prompt_id == "reprompt" and "PCM" in rejected.error  # type: ignore[attr-defined]
    assert messages["voice.prompt_unknown_files"].files == ["GOODBYE"]  # type: ignore[attr-defined]
    assert load_prompt_pack(tmp_path / "absent", prompts.PROMPTS) == {}


class CountingVoice:
    name = "counting"

    def __init__(self) -> None:
        self.spoken: list[str] = []

    def warm_up(self) -> None:
        return None

    def synthesize(self, text: str) -> bytes:
        self.spoken.append(text)
        return b"\x01\x00" * 800


def test_recordings_win_over_synthesis_for_their_exact_text(sample_kb, tmp_path):
    write_wav(tmp_path / "menu.wav", 44100, channels=2)
    write_wav(tmp_path / "not_understood_key.wav", 16000, seconds=0.25)
    settings = sample_kb.settings.model_copy(update={"voice_prompts_dir": tmp_path})
    voice = CountingVoice()
    speech = build_speech(settings, voice)
    menu = read_prompt_wav(tmp_path / "menu.wav")
    key = read_prompt_wav(tmp_path / "not_understood_key.wav")
    assert speech.say(prompts.MENU, cache=True) == menu
    assert speech.cached(prompts.MENU) == menu
    # two recorded prompts said together: both recordings, a short pause between
    both = speech.say(f"{prompts.NOT_UNDERSTOOD_KEY} {prompts.MENU}", cache=True)
    assert both.startswith(key) and both.endswith(menu) and len(both) > len(key) + len(menu)
    # the others (and the greeting, which only ends with the menu) are synthesised once
    texts = prompts.prompt_texts(settings.province_name)
    assert len(voice.spoken) == len(texts) - 2
    assert speech_text(prompts.MENU) not in voice.spoken
    assert speech.say(f"{prompts.DOSSIER_BAD_CODE} {prompts.MENU}") == b"\x01\x00" * 800


@pytest.mark.usefixtures("espeak")
def test_a_call_plays_the_recorded_greeting(sample_kb, tmp_path):
    write_wav(tmp_path / "greeting.wav", 44100, channels=2, seconds=1.0)
    recorded = read_prompt_wav(tmp_path / "greeting.wav")
    services = scripted_services(sample_kb, [])
    settings = sample_kb.settings.model_copy(update={"voice_prompts_dir": tmp_path})
    services.speech = build_speech(settings)
    synthesised_menu = services.speech.say(prompts.MENU)

    async def scenario() -> tuple[bytes, bytes]:
        server = AudioSocketServer(services)
        port = await server.start("127.0.0.1", 0)
        caller = AudioSocketCaller()
        await caller.connect("127.0.0.1", port)
        assert await caller.wait_for_audio_after(0, 10.0), "no greeting"
        await caller.wait_quiet(0.3, 10.0)
        greeting = bytes(caller.received)
        await caller.press("9")  # an unsupported key: "Phím này chưa được hỗ trợ" + the menu
        await caller.wait_quiet(0.5, 30.0)
        await caller.hang_up()
        await server.close()
        return greeting, bytes(caller.received[len(greeting) :])

    greeting, after = asyncio.run(scenario())
    assert greeting == recorded  # the person's voice, byte for byte (1 s: whole frames)
    assert synthesised_menu != recorded and synthesised_menu[:3200] in after  # espeak-ng


def test_prompts_export_lists_every_prompt_id(tmp_path, monkeypatch):
    monkeypatch.setenv("HOTLINE_PROVINCE_NAME", "Đà Nẵng")
    from knowledge_base.settings import get_settings

    get_settings.cache_clear()
    try:
        out = tmp_path / "prompts.csv"
        result = CliRunner().invoke(cli, ["voice", "prompts", "export", "--out", str(out)])
        assert result.exit_code == 0, result.output
        rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8"))))
        printed = CliRunner().invoke(cli, ["voice", "prompts", "export"])
    finally:
        get_settings.cache_clear()
    assert rows[0] == ["id", "text"]
    ids = dict(rows[1:])
    assert set(ids) == set(prompts.PROMPTS) | {"greeting"}
    assert "Đà Nẵng" in ids["greeting"] and ids["sms_offer"] == prompts.SMS_OFFER
    assert printed.exit_code == 0 and printed.output.startswith("id,text")
