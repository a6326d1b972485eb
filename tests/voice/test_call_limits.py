"""What the line takes on, on 127.0.0.1: one call cap shared by the transports and counted per
connection, a maximum call length, inbound audio faster than real time, oversize frames."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from knowledge_base.db import session_scope
from nlu.chat import OfflineDialogue
from nlu.models import VoiceCall
from tests.voice.conftest import scripted_services, tone
from voice import prompts
from voice.audio import FRAME_BYTES
from voice.capacity import CallSlots
from voice.frames import AudioIn, CallEnded, DtmfIn
from voice.listener import INBOUND_AUDIO_FRAMES, Listener
from voice.stt.scripted import ScriptedRecognizer, ScriptedStream
from voice.transports.audiosocket import HEADER, KIND_AUDIO
from voice.transports.audiosocket_client import AudioSocketCaller
from voice.transports.audiosocket_server import AudioSocketServer

pytestmark = pytest.mark.usefixtures("espeak")
STREAM = "/api/v1/voice/stream"


def _start(ws, call_sid: str) -> None:
    start = {"callSid": call_sid, "streamSid": "MZlimits"}
    ws.send_text(json.dumps({"event": "start", "streamSid": "MZlimits", "start": start}))


def _close_code(ws, within: int = 2000) -> int | None:
    """Read (and skip the line's audio) until the server closes the stream."""
    for _ in range(within):
        message = ws.receive()
        if message["type"] == "websocket.close":
            return message["code"]
    return None


async def _until(condition, within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if condition():
            return True
        await asyncio.sleep(0.02)
    return condition()


def test_slots_count_connections_and_release_once():
    slots = CallSlots(2)
    first, second = slots.try_acquire("test"), slots.try_acquire("test")
    assert first is not None and second is not None
    assert slots.try_acquire("test") is None and slots.refused == 1
    first.release()
    first.release()  # idempotent: a slot is given back once
    assert slots.in_use == 1
    assert slots.try_acquire("test") is not None and slots.in_use == 2


def test_one_uuid_on_many_sockets_takes_many_slots(sample_kb):
    services = scripted_services(sample_kb, [])
    services.slots = CallSlots(2)
    busy = services.speech.cached(prompts.BUSY)
    assert busy

    async def scenario() -> AudioSocketCaller:
        server = AudioSocketServer(services)
        port = await server.start("127.0.0.1", 0)
        same = uuid.uuid4()
        callers = [AudioSocketCaller(call_id=same) for _ in range(3)]
        for caller in callers[:2]:
            await caller.connect("127.0.0.1", port)
            assert await caller.wait_for_audio_after(0, 10.0), "no greeting"
        extra = callers[2]
        await extra.connect("127.0.0.1", port)
        await asyncio.wait_for(extra.hung_up.wait(), 15.0)
        assert len(server.active) == 2 and services.slots.refused == 1
        for caller in callers:
            await caller.hang_up()
        assert await _until(lambda: services.slots.in_use == 0, 10.0)
        await server.close()
        return extra

    extra = asyncio.run(scenario())
    # the refused caller heard the busy prompt, whole, and nothing else
    assert abs(len(extra.received) - len(busy)) < FRAME_BYTES


def test_a_media_stream_over_the_cap_is_closed_with_1013(sample_kb):
    app = create_app(kb=sample_kb, dialogue=OfflineDialogue())
    with TestClient(app) as client:
        services = scripted_services(sample_kb, [])
        services.slots = CallSlots(1)
        app.state.voice = services
        with client.websocket_connect(STREAM) as first:
            _start(first, "CAlimitsfirst01")
            assert first.receive_json()["event"] == "media"
            with client.websocket_connect(STREAM) as second:
                _start(second, "CAlimitssecond1")
                assert _close_code(second) == 1013
            first.send_text(json.dumps({"event": "stop", "streamSid": "MZlimits"}))
    assert services.slots.refused == 1 and services.slots.in_use == 0


def test_the_cap_is_shared_by_audiosocket_and_media_streams(sample_kb):
    app = create_app(kb=sample_kb, dialogue=OfflineDialogue())
    with TestClient(app) as client:
        services = scripted_services(sample_kb, [])
        services.slots = CallSlots(1)
        app.state.voice = services

        def stream_close_code() -> int | None:
            with client.websocket_connect(STREAM) as ws:
                _start(ws, "CAlimitsshared1")
                return _close_code(ws)

        async def audiosocket_holds_the_line() -> int | None:
            server = AudioSocketServer(services)
            port = await server.start("127.0.0.1", 0)
            caller = AudioSocketCaller()
            await caller.connect("127.0.0.1", port)
            assert await caller.wait_for_audio_after(0, 10.0), "no greeting"
            code = await asyncio.to_thread(stream_close_code)
            await caller.hang_up()
            await server.close()
            return code

        assert asyncio.run(audiosocket_holds_the_line()) == 1013

        async def audiosocket_refused() -> AudioSocketServer:
            server = AudioSocketServer(services)
            port = await server.start("127.0.0.1", 0)
            caller = AudioSocketCaller()
            await caller.connect("127.0.0.1", port)
            await asyncio.wait_for(caller.hung_up.wait(), 15.0)
            await caller.close()
            await server.close()
            return server

        with client.websocket_connect(STREAM) as ws:
            _start(ws, "CAlimitsshared2")
            assert ws.receive_json()["event"] == "media"
            refused = asyncio.run(audiosocket_refused())
            ws.send_text(json.dumps({"event": "stop", "streamSid": "MZlimits"}))
        assert not refused.finished  # no call was started for it
    assert services.slots.refused == 2 and services.slots.in_use == 0


def test_a_call_over_its_maximum_length_says_goodbye_and_hangs_up(sample_kb):
    services = scripted_services(sample_kb, [])
    services.max_call_s = 1.5

    async def scenario() -> tuple[AudioSocketServer, AudioSocketCaller, float]:
        server = AudioSocketServer(services)
        port = await server.start("127.0.0.1", 0)
        caller = AudioSocketCaller()
        started = time.monotonic()
        await caller.connect("127.0.0.1", port)
        await asyncio.wait_for(caller.hung_up.wait(), 20.0)
        took = time.monotonic() - started
        await caller.close()
        await server.close()
        return server, caller, took

    server, caller, took = asyncio.run(scenario())
    call_id = str(caller.call_id)
    assert server.finished[call_id] == "time_limit"
    assert took < 1.5 + 12.0  # the goodbye is a few seconds
    assert caller.audio_after(caller.audio_times[0] + 1.5), "no goodbye after the limit"
    with session_scope(sample_kb.engine) as session:
        assert session.get(VoiceCall, call_id).outcome == "time_limit"


def test_audio_faster_than_real_time_is_dropped_at_the_door():
    async def nothing() -> None:
        return None

    async def scenario() -> Listener:
        with ThreadPoolExecutor(1) as pool:
            listener = Listener(ScriptedRecognizer([]), pool, on_barge_in=nothing)
        for _ in range(2500):  # 50 s of audio, offered at once and never consumed
            listener.offer(AudioIn(b"\x00" * FRAME_BYTES))
        listener.offer(DtmfIn("5"))
        listener.offer(CallEnded("hangup"))
        return listener

    listener = asyncio.run(scenario())
    assert listener.inbound.qsize() == INBOUND_AUDIO_FRAMES + 2  # the key and the hang-up fit
    assert listener.dropped_frames == 2500 - INBOUND_AUDIO_FRAMES


class _GatedStream(ScriptedStream):
    """A recogniser that has fallen behind until the gate opens."""

    def __init__(self, gate: threading.Event) -> None:
        super().__init__(ScriptedRecognizer([]).transcripts)
        self.gate = gate

    def accept(self, pcm: bytes) -> bool:
        self.gate.wait(10.0)
        return super().accept(pcm)


class _GatedRecognizer(ScriptedRecognizer):
    def __init__(self, gate: threading.Event) -> None:
        super().__init__([])
        self.gate = gate

    def stream(self, phrases: list[str] | None = None) -> _GatedStream:
        return _GatedStream(self.gate)


def test_a_peer_blasting_audio_50_times_real_time_keeps_the_queues_bounded(sample_kb):
    services = scripted_services(sample_kb, [])
    gate = threading.Event()
    services.recognizer = _GatedRecognizer(gate)

    async def scenario() -> tuple[AudioSocketServer, int, int, float]:
        server = AudioSocketServer(services)
        port = await server.start("127.0.0.1", 0)
        caller = AudioSocketCaller()
        await caller.connect("127.0.0.1", port)
        assert await caller.wait_for_audio_after(0, 10.0), "no greeting"
        (session,) = server.active
        inbound = session.listener.inbound
        most = 0

        async def watch() -> None:
            nonlocal most
            while True:
                most = max(most, inbound.qsize())
                await asyncio.sleep(0)

        watcher = asyncio.create_task(watch())
        sent_at = time.monotonic()
        await caller.speak(tone(40.0), realtime=False)  # 2000 frames
        took = time.monotonic() - sent_at
        await asyncio.sleep(0.3)
        watcher.cancel()
        dropped = session.listener.dropped_frames
        gate.set()
        await caller.hang_up()
        assert await _until(lambda: not server.active, 10.0)
        await server.close()
        return server, most, dropped, took

    try:
        server, most, dropped, took = asyncio.run(scenario())
    finally:
        gate.set()
    assert took < 40.0 / 50, f"sent at {40.0 / took:.0f}× real time only"
    assert most <= INBOUND_AUDIO_FRAMES
    assert dropped > 1000  # the recogniser's 10 s backlog filled; the rest went nowhere
    assert list(server.finished.values()) == ["hung_up"]


def test_an_oversize_audiosocket_frame_closes_the_call(sample_kb, caplog):
    services = scripted_services(sample_kb, [])

    async def scenario() -> tuple[AudioSocketServer, AudioSocketCaller, float]:
        server = AudioSocketServer(services)
        port = await server.start("127.0.0.1", 0)
        caller = AudioSocketCaller()
        await caller.connect("127.0.0.1", port)
        assert await caller.wait_for_audio_after(0, 10.0), "no greeting"
        sent = time.monotonic()
        await caller.send_raw(HEADER.pack(KIND_AUDIO, 60_000) + b"\x00" * 100)
        await asyncio.wait_for(caller.hung_up.wait(), 5.0)
        took = time.monotonic() - sent
        await caller.close()
        assert await _until(lambda: not server.active, 5.0)
        await server.close()
        return server, caller, took

    with caplog.at_level(logging.WARNING, logger="voice.transports.audiosocket_server"):
        server, caller, took = asyncio.run(scenario())
    assert took < 3.0  # refused on the header, not after waiting for 60 kB
    assert server.finished[str(caller.call_id)] == "error"
    (record,) = [r for r in caplog.records if r.message == "audiosocket.bad_stream"]
    assert "60000 bytes" in record.error  # type: ignore[attr-defined]


def test_an_oversize_media_message_closes_the_stream_with_1009(sample_kb):
    app = create_app(kb=sample_kb, dialogue=OfflineDialogue())
    with TestClient(app) as client:
        app.state.voice = scripted_services(sample_kb, [])
        with client.websocket_connect(STREAM) as ws:
            _start(ws, "CAlimitsbigmsg1")
            assert ws.receive_json()["event"] == "media"
            ws.send_text(json.dumps({"event": "media", "media": {"payload": "A" * 100_000}}))
            assert _close_code(ws) == 1009
        with client.websocket_connect(STREAM) as ws:
            _start(ws, "CAlimitsbinary1")
            assert ws.receive_json()["event"] == "media"
            ws.send_bytes(b"\x00" * 320)
            assert _close_code(ws) == 1002


def test_call_slots_report_live_and_refused_calls_to_metrics():
    from prometheus_client import REGISTRY

    from voice.capacity import CallSlots

    def sample(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    live, refused = (
        sample("hotline_voice_live_calls"),
        sample("hotline_voice_calls_rejected_total", reason="busy"),
    )
    slots = CallSlots(1)
    first = slots.try_acquire("test")
    assert first is not None and slots.try_acquire("test") is None
    assert sample("hotline_voice_live_calls") == live + 1
    assert sample("hotline_voice_calls_rejected_total", reason="busy") == refused + 1
    first.release()
    first.release()  # idempotent: counted once
    assert sample("hotline_voice_live_calls") == live
