"""Whole calls over a real AudioSocket TCP connection on 127.0.0.1: greeting, barge-in, a spoken
question answered from the knowledge base, the keypad, transfer, silence, broken peers."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import select

from knowledge_base.db import session_scope
from nlu.models import ChatTurn, Conversation, Rating, TurnRole, VoiceCall
from tests.voice.conftest import hush, scripted_services, tone
from voice.transports.audiosocket import encode_audio
from voice.transports.audiosocket_client import AudioSocketCaller
from voice.transports.audiosocket_server import AudioSocketServer

pytestmark = pytest.mark.usefixtures("espeak")


async def _server(services) -> tuple[AudioSocketServer, int]:
    server = AudioSocketServer(services)
    port = await server.start("127.0.0.1", 0)
    return server, port


def _call_row(kb, call_id: str) -> VoiceCall:
    with session_scope(kb.engine) as session:
        row = session.get(VoiceCall, call_id)
        session.expunge(row)
        return row


def test_barge_in_question_answer_and_transfer(sample_kb):
    services = scripted_services(sample_kb, ["đăng ký khai sinh cần giấy tờ gì"])

    caller = AudioSocketCaller()

    async def scenario() -> dict[str, float]:
        server, port = await _server(services)
        await caller.connect("127.0.0.1", port)
        assert await caller.wait_for_audio_after(0, 10.0), "no greeting"
        await asyncio.sleep(1.0)  # the greeting is playing
        speech_started = time.monotonic()
        speaking = asyncio.create_task(caller.speak(tone(1.2)))
        await asyncio.sleep(0.6)
        # Barge-in: the greeting stops within 200 ms of the caller starting to talk.
        frames_after = [t for t in caller.audio_times if t > speech_started + 0.2 + 0.04]
        assert len(frames_after) <= 2, f"{len(frames_after)} greeting frames after barge-in"
        spoke_until = await speaking
        await caller.speak(hush(0.2))  # then the line is quiet (Asterisk may send nothing)
        answered = await caller.wait_for_audio_after(spoke_until, 10.0)
        assert answered is not None, "no answer audio"
        await caller.wait_quiet(0.5, 60.0)
        answer_bytes = len(caller.received)
        await caller.press("0")
        await asyncio.wait_for(caller.hung_up.wait(), 30.0)
        await caller.close()
        await asyncio.sleep(0.2)
        await server.close()
        return {"latency": answered - spoke_until, "answer_bytes": answer_bytes}

    figures = asyncio.run(scenario())
    assert figures["latency"] < 3.0
    call_id = str(caller.call_id)
    row = _call_row(sample_kb, call_id)
    assert row.outcome == "transferred" and row.transport == "audiosocket" and row.turns == 1
    with session_scope(sample_kb.engine) as session:
        conversation = session.get(Conversation, call_id)
        assert conversation is not None and conversation.channel == "phone"
        turns = session.scalars(select(ChatTurn).where(ChatTurn.conversation_id == call_id)).all()
        assert turns[0].role is TurnRole.CITIZEN and "khai sinh" in turns[0].text
        assert turns[1].answered is True and turns[1].procedure_code


def test_broken_peers_end_their_call_and_the_server_keeps_serving(sample_kb):
    services = scripted_services(sample_kb, [])

    async def scenario() -> None:
        server, port = await _server(services)
        # 1. garbage instead of a UUID
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\n\r\n")
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), 7.0) == b""
        writer.close()
        # 2. a call whose stream is cut inside a frame
        broken = AudioSocketCaller()
        await broken.connect("127.0.0.1", port)
        await broken.send_raw(encode_audio(b"\x00" * 320)[:50])
        await broken.close()
        # 3. an unknown frame kind
        odd = AudioSocketCaller()
        await odd.connect("127.0.0.1", port)
        await odd.send_raw(bytes([0x42, 0x00, 0x00]))
        await asyncio.wait_for(odd.hung_up.wait(), 10.0)
        await odd.close()
        # 4. a normal caller is still answered
        fine = AudioSocketCaller()
        await fine.connect("127.0.0.1", port)
        assert await fine.wait_for_audio_after(0, 10.0)
        await fine.hang_up()
        for _ in range(100):
            if not server.active:
                break
            await asyncio.sleep(0.05)
        assert not server.active
        assert server.finished[str(odd.call_id)] == "error"
        assert server.finished[str(fine.call_id)] == "hung_up"
        await server.close()

    asyncio.run(scenario())


@pytest.mark.slow
def test_silence_reprompts_offers_the_menu_then_says_goodbye(sample_kb):
    services = scripted_services(sample_kb, [])

    async def scenario() -> AudioSocketCaller:
        server, port = await _server(services)
        caller = AudioSocketCaller()
        await caller.connect("127.0.0.1", port)  # then sends nothing at all, like Asterisk
        await asyncio.wait_for(caller.hung_up.wait(), 90.0)
        await caller.close()
        await server.close()
        return caller

    caller = asyncio.run(scenario())
    assert _call_row(sample_kb, str(caller.call_id)).outcome == "silence"


@pytest.mark.slow
def test_keypad_dossier_look_up_and_rating(sample_kb):
    services = scripted_services(sample_kb, ["tạm biệt"])
    code_digits = "0000012552401010001"  # 000.00.12.H55-240101-0001, nlu/data/sample_dossiers.csv

    async def scenario() -> AudioSocketCaller:
        server, port = await _server(services)
        caller = AudioSocketCaller()
        await caller.connect("127.0.0.1", port)
        await caller.wait_for_audio_after(0, 10.0)
        await caller.press("2")  # interrupts the greeting
        await caller.wait_quiet(0.4, 30.0)
        for digit in code_digits + "#":
            await caller.press(digit)
        await caller.wait_quiet(0.4, 30.0)
        for digit in "5678#":
            await caller.press(digit)
        await caller.wait_quiet(0.6, 60.0)
        said_goodbye = await caller.speak(tone(0.8))
        await caller.speak(hush(0.1))
        await caller.wait_for_audio_after(said_goodbye, 10.0)
        await caller.press("5")
        await asyncio.wait_for(caller.hung_up.wait(), 60.0)
        await caller.close()
        await server.close()
        return caller

    caller = asyncio.run(scenario())
    call_id = str(caller.call_id)
    assert _call_row(sample_kb, call_id).outcome == "completed"
    with session_scope(sample_kb.engine) as session:
        scores = session.scalars(
            select(Rating.score).where(Rating.conversation_id == call_id)
        ).all()
        assert scores == [5]
        texts = session.scalars(
            select(ChatTurn.text).where(ChatTurn.conversation_id == call_id)
        ).all()
        # the transcript keeps the code masked (nlu/privacy.py)
        assert "[bàn phím] tra cứu hồ sơ ***.**.**.H55-******-0001" in texts
        assert not any("240101" in t for t in texts)
        assert any("Đã có kết quả" in t for t in texts)


def test_a_failing_dialogue_hands_the_caller_to_a_person(sample_kb):
    services = scripted_services(sample_kb, ["đăng ký khai sinh"])

    async def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("dialogue down")

    services.chat.handle = broken  # type: ignore[method-assign]

    async def scenario() -> AudioSocketCaller:
        server, port = await _server(services)
        caller = AudioSocketCaller()
        await caller.connect("127.0.0.1", port)
        await caller.wait_for_audio_after(0, 10.0)
        spoke = await caller.speak(tone(0.8))
        await caller.speak(hush(0.1))
        assert await caller.wait_for_audio_after(spoke, 10.0), "silence instead of an apology"
        await asyncio.wait_for(caller.hung_up.wait(), 30.0)  # handed over to the dialplan
        await caller.close()
        await server.close()
        return caller

    caller = asyncio.run(scenario())
    assert _call_row(sample_kb, str(caller.call_id)).outcome == "error"
