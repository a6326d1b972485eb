"""A real SIP call on loopback, no Asterisk: baresip dials the pjsua2 SIP↔AudioSocket bridge,
which hands the call to our AudioSocket server (real viet-asr, real espeak-ng). A recorded
question is played; its transcript must reach the dialogue and the answer's audio must come
back to the caller (baresip's sndfile module records what it heard)."""

from __future__ import annotations

import asyncio
import csv
import shutil
import signal
import subprocess
import sys
import time
import wave
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from knowledge_base.db import session_scope
from nlu.actions import ActionServer
from nlu.chat import ChatService, OfflineDialogue
from nlu.dossiers import MemoryAttemptLimiter
from nlu.models import ChatTurn, TurnRole, VoiceCall
from nlu.runtime import free_port
from tests.conftest import REPO, SHARED_DATA
from voice.audio import resample
from voice.evaluation import word_errors
from voice.runtime import build_services
from voice.stt.vietasr_engine import VietAsrRecognizer
from voice.transports.audiosocket import AudioSocketDecoder
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


async def _start_bridge(
    sip_port: int, audiosocket_port: int, log: Path
) -> asyncio.subprocess.Process:
    """The bridge as production runs it: its own process, stopped by SIGTERM. What it prints
    (Python's fault handler on) goes to ``log``, to say why if it ever dies."""
    with log.open("wb") as log_file:
        bridge = await asyncio.create_subprocess_exec(
            sys.executable,
            "-X",
            "faulthandler",
            "-m",
            "voice.transports.sip_bridge",
            str(sip_port),
            f"127.0.0.1:{audiosocket_port}",
            cwd=REPO,
            stdout=log_file,
            stderr=asyncio.subprocess.STDOUT,
        )
    for _ in range(200):
        if "sip bridge ready" in await asyncio.to_thread(log.read_text, errors="replace"):
            return bridge
        if bridge.returncode is not None:
            break
        await asyncio.sleep(0.1)
    bridge.kill()
    await bridge.wait()
    raise AssertionError(f"the bridge did not start:\n{_tail(log)}")


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


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
    actions = ActionServer(sample_kb, sample_kb.engine, MemoryAttemptLimiter())
    services = build_services(sample_kb, chat, actions, recognizer=VietAsrRecognizer())

    bridge_log = tmp_path / "bridge.log"

    async def scenario() -> AudioSocketServer:
        server = AudioSocketServer(services)
        port = await server.start("127.0.0.1", 0)
        bridge = await _start_bridge(bridge_port, port, bridge_log)
        try:
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
            bridge.send_signal(signal.SIGTERM)
            await asyncio.wait_for(bridge.wait(), 20)
            await server.close()
        assert bridge.returncode == 0, f"the bridge did not shut down cleanly:\n{_tail(bridge_log)}"
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


SIPP_CALL_UNTIL_BYE = """\
<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="call, then wait for the far end to hang up">
  <send retrans="500"><![CDATA[
INVITE sip:hotline@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:caller@[local_ip]:[local_port]>;tag=[pid]SIPpTag[call_number]
To: <sip:hotline@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: <sip:caller@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: [len]

v=0
o=caller 1 1 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0
a=rtpmap:0 PCMU/8000
]]></send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rrs="true"/>
  <send><![CDATA[
ACK [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:caller@[local_ip]:[local_port]>;tag=[pid]SIPpTag[call_number]
To: <sip:hotline@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 1 ACK
Contact: <sip:caller@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Length: 0
]]></send>
  <recv request="BYE" timeout="20000"/>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:caller@[local_ip]:[local_port]>
Content-Length: 0
]]></send>
</scenario>
"""


class _AudioSocketPeer:
    """Stands in for the AudioSocket server: accepts one leg and notes how it ended."""

    def __init__(self) -> None:
        self.connected = asyncio.Event()
        self.ended = asyncio.Event()
        self.frames: list[str] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        decoder = AudioSocketDecoder()
        self.connected.set()
        while data := await reader.read(4096):
            self.frames.extend(type(frame).__name__ for frame in decoder.feed(data))
        self.ended.set()
        writer.close()


def test_sigterm_during_a_call_sends_bye_and_exits_cleanly(tmp_path):
    """Production stops the bridge with SIGTERM while calls are up: each caller gets a BYE,
    each AudioSocket leg is told the call ended, and the process exits 0 within seconds."""
    if shutil.which("sipp") is None:
        pytest.fail("sipp is not installed (scripts/setup_voice.sh)")
    pytest.importorskip("pjsua2")
    (tmp_path / "call.xml").write_text(SIPP_CALL_UNTIL_BYE)
    bridge_port, caller_port, media_port = free_port(), free_port(), free_port()

    async def scenario() -> tuple[float, int, int, _AudioSocketPeer]:
        peer = _AudioSocketPeer()
        server = await asyncio.start_server(peer.handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        bridge = await _start_bridge(bridge_port, port, tmp_path / "bridge.log")
        caller = await asyncio.create_subprocess_exec(
            "sipp",
            "-sf",
            str(tmp_path / "call.xml"),
            "-m",
            "1",
            "-i",
            "127.0.0.1",
            "-p",
            str(caller_port),
            "-mi",
            "127.0.0.1",
            "-mp",
            str(media_port),
            "-timeout",
            "30s",
            "-nostdin",
            f"127.0.0.1:{bridge_port}",
            cwd=tmp_path,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            await asyncio.wait_for(peer.connected.wait(), 15)  # the call is up and bridged
            await asyncio.sleep(0.5)
            signalled = time.monotonic()
            bridge.send_signal(signal.SIGTERM)
            await asyncio.wait_for(bridge.wait(), 15)
            stop_s = time.monotonic() - signalled
            await asyncio.wait_for(caller.wait(), 15)
            await asyncio.wait_for(peer.ended.wait(), 5)
        finally:
            for process in (bridge, caller):
                if process.returncode is None:
                    process.kill()
                    await process.wait()
            server.close()
        assert bridge.returncode is not None and caller.returncode is not None
        return stop_s, bridge.returncode, caller.returncode, peer

    stop_s, bridge_rc, caller_rc, peer = asyncio.run(scenario())
    assert bridge_rc == 0, (
        f"the bridge did not shut down cleanly:\n{_tail(tmp_path / 'bridge.log')}"
    )
    assert stop_s < 5.0, f"the bridge took {stop_s:.1f} s to stop"
    assert caller_rc == 0, "the caller did not get a BYE (sipp's scenario failed)"
    assert peer.frames[0] == "CallStarted" and peer.frames[-1] == "CallEnded", peer.frames[-3:]
