"""A real SIP call on loopback, no Asterisk: baresip dials the pjsua2 SIP↔AudioSocket bridge,
which hands the call to our AudioSocket server (real viet-asr, real espeak-ng). A recorded
question is played; its transcript must reach the dialogue and the answer's audio must come
back to the caller (baresip's sndfile module records what it heard)."""

from __future__ import annotations

import asyncio
import csv
import shutil
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from knowledge_base.db import session_scope
from nlu.actions import ActionServer
from nlu.chat import ChatService, OfflineDialogue
from nlu.dossiers import MemoryFailureLimiter
from nlu.models import ChatTurn, TurnRole, VoiceCall
from nlu.runtime import free_port
from tests.conftest import REPO, SHARED_DATA
from voice.audio import resample
from voice.evaluation import word_errors
from voice.runtime import build_services
from voice.stt.vietasr_engine import VietAsrRecognizer
from voice.transports.audiosocket_server import AudioSocketServer

pytestmark = pytest.mark.slow
BARESIP_CONFIG = """\
poll_method\t\tepoll
sip_listen\t\t127.0.0.1:{caller_port}
net_interface\t\t127.0.0.1
module_path\t\t/usr/lib/baresip/modules
audio_player\t\taufile,{folder}/played.wav
audio_source\t\taufile,{folder}/question.wav
audio_alert\t\taufile,{folder}/played-alert.wav
ausrc_srate\t\t8000
auplay_srate\t\t8000
module\t\t\tg711.so
module\t\t\taufile.so
module\t\t\tsndfile.so
snd_path\t\t{folder}
module_app\t\tmenu.so
module_app\t\taccount.so
"""


def _question(folder: Path) -> str:
    """A real recorded sentence where ../shared/data is present, else espeak-ng's voice;
    written at 8 kHz with 3 s of silence before (the greeting) and 12 s after (the answer)."""
    manifest = SHARED_DATA / "speech" / "manifest.tsv"
    reference = ""
    if manifest.exists():
        with manifest.open(encoding="utf-8") as handle:
            row = next(
                r
                for r in csv.DictReader(handle, delimiter="\t")
                if r["path"].startswith("vivos_mailong25/")
            )
        with wave.open(str(manifest.parent / row["path"])) as clip:
            pcm = np.frombuffer(clip.readframes(clip.getnframes()), "<i2").astype(np.int16)
            pcm = resample(pcm, clip.getframerate(), 8000)
        reference = row["transcript"]
    else:
        subprocess.run(
            [
                "espeak-ng",
                "-v",
                "vi",
                "-w",
                str(folder / "q.wav"),
                "đăng ký khai sinh cần giấy tờ gì",
            ],
            check=True,
        )
        with wave.open(str(folder / "q.wav")) as clip:
            pcm = resample(
                np.frombuffer(clip.readframes(clip.getnframes()), "<i2").astype(np.int16),
                clip.getframerate(),
                8000,
            )
    audio = np.concatenate([np.zeros(3 * 8000, np.int16), pcm, np.zeros(12 * 8000, np.int16)])
    with wave.open(str(folder / "question.wav"), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(audio.astype("<i2").tobytes())
    return reference


def _heard_seconds(recording: Path, after_s: float) -> float:
    """Seconds of loud audio the caller received after ``after_s``."""
    with wave.open(str(recording)) as heard:
        pcm = np.frombuffer(heard.readframes(heard.getnframes()), "<i2").astype(np.float64)
        rate = heard.getframerate()
    frames = (
        pcm[int(after_s * rate) :].reshape(-1, rate // 50)[:, :]
        if pcm.size > after_s * rate
        else np.zeros((0, 1))
    )
    loud = [f for f in frames if np.sqrt(np.mean(f**2)) > 300]
    return len(loud) * 0.02


async def _until_ready(stream: asyncio.StreamReader) -> None:
    while b"sip bridge ready" not in await stream.readline():  # pjlib prints its own lines first
        continue


def test_baresip_calls_through_the_pjsua2_bridge(sample_kb, tmp_path):
    if shutil.which("baresip") is None or shutil.which("espeak-ng") is None:
        pytest.fail("baresip or espeak-ng is not installed (scripts/setup_voice.sh)")
    pytest.importorskip("pjsua2")
    reference = _question(tmp_path)
    caller_port, bridge_port = free_port(), free_port()
    (tmp_path / "config").write_text(
        BARESIP_CONFIG.format(caller_port=caller_port, folder=tmp_path)
    )
    (tmp_path / "accounts").write_text(f"<sip:caller@127.0.0.1:{caller_port}>;regint=0\n")
    chat = ChatService(sample_kb, sample_kb.engine, OfflineDialogue())
    actions = ActionServer(sample_kb, sample_kb.engine, MemoryFailureLimiter())
    services = build_services(sample_kb, chat, actions, recognizer=VietAsrRecognizer())

    async def scenario() -> AudioSocketServer:
        server = AudioSocketServer(services)
        port = await server.start("127.0.0.1", 0)
        bridge = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "voice.transports.sip_bridge",
            str(bridge_port),
            f"127.0.0.1:{port}",
            cwd=REPO,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        drain: asyncio.Task[bytes] | None = None
        try:
            await asyncio.wait_for(_until_ready(bridge.stdout), 20)
            drain = asyncio.create_task(bridge.stdout.read())  # keep pjlib's pipe from filling
            caller = await asyncio.create_subprocess_exec(
                "baresip",
                "-f",
                str(tmp_path),
                "-e",
                f"/dial sip:hotline@127.0.0.1:{bridge_port}",
                "-t",
                "30",
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
            await asyncio.wait_for(caller.wait(), 60)
            for _ in range(100):  # the call's end is stored once the bridge hangs up
                if server.finished:
                    break
                await asyncio.sleep(0.1)
        finally:
            bridge.stdin.close()
            await asyncio.wait_for(bridge.wait(), 20)
            if drain is not None:
                drain.cancel()
            await server.close()
        assert bridge.returncode == 0, "the bridge did not shut down cleanly"
        return server

    server = asyncio.run(scenario())
    (call_id,) = server.finished
    with session_scope(sample_kb.engine) as session:
        assert session.get(VoiceCall, call_id).transport == "audiosocket"
        turns = session.scalars(
            select(ChatTurn).where(ChatTurn.conversation_id == call_id).order_by(ChatTurn.id)
        ).all()
    said = [t.text for t in turns if t.role is TurnRole.CITIZEN]
    assert said and said[0], "no transcript reached the dialogue"
    assert any(t.role is TurnRole.BOT for t in turns), "the dialogue did not answer"
    if reference:
        wrong, total = word_errors(reference, said[0])
        assert wrong / total <= 0.3, f"heard {said[0]!r} for {reference!r}"
    (recording,) = tmp_path.glob("dump-*-dec.wav")
    question_end = 3 + 6  # seconds into the call: greeting time plus the question
    assert _heard_seconds(recording, question_end) > 1.0, "no answer audio reached the caller"
