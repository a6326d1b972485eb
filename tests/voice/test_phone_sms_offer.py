"""A long answer on the phone: summarised by ear, then offered in full by SMS to the caller's
number ("bấm phím 1"), through an injected outbox; the media stream passes the caller id."""

from __future__ import annotations

import asyncio
import json
import logging
import time

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from knowledge_base.db import session_scope
from nlu.chat import ChatMessage, ChatReply, OfflineDialogue
from nlu.models import VoiceCall
from tests.voice.conftest import hush, scripted_services, tone
from voice import prompts
from voice.audio import FRAME_BYTES
from voice.call import CallSession, serve
from voice.frames import AudioIn, AudioOut, CallEnded, DtmfIn, HangUp, OutboundFrame, Transfer
from voice.outbound import NoOutbox, SmsOffer, caller_number

pytestmark = pytest.mark.usefixtures("espeak")
DOCUMENTS = [
    "Tờ khai đăng ký khai sinh theo mẫu.",
    "Giấy chứng sinh do cơ sở y tế nơi trẻ sinh ra cấp.",
    "Giấy tờ tùy thân của người đi đăng ký, bản chính để đối chiếu.",
    "Giấy chứng nhận kết hôn của cha mẹ nếu cha mẹ đã đăng ký kết hôn.",
    "Văn bản ủy quyền có chứng thực nếu nhờ người khác đi đăng ký.",
    "Trường hợp trẻ sinh ra ở nước ngoài, giấy tờ chứng minh việc trẻ nhập cảnh.",
    "Lệ phí: miễn phí khi đăng ký đúng hạn.",
]
LONG_ANSWER = "Hồ sơ đăng ký khai sinh gồm: " + " ".join(f"- {d}" for d in DOCUMENTS)


class FakeOutbox:
    def __init__(self, accept: bool = True) -> None:
        self.sent: list[tuple[str, str, str]] = []
        self.accept = accept

    async def send_sms(self, number: str, text: str, idempotency_key: str) -> bool:
        self.sent.append((number, text, idempotency_key))
        return self.accept


class Line:
    """The transport's side: what the call sends, and the caller's frames paced in."""

    def __init__(self) -> None:
        self.audio = bytearray()
        self.closed = asyncio.Event()

    async def send(self, frame: OutboundFrame) -> None:
        if isinstance(frame, AudioOut):
            self.audio.extend(frame.pcm)
        elif isinstance(frame, Transfer | HangUp):
            self.closed.set()


async def _speak(session: CallSession, pcm: bytes) -> None:
    for start in range(0, len(pcm), FRAME_BYTES):
        session.listener.offer(AudioIn(pcm[start : start + FRAME_BYTES].ljust(FRAME_BYTES, b"\0")))
        await asyncio.sleep(0.02)


async def _until(condition, within_s: float = 20.0) -> None:
    deadline = time.monotonic() + within_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


def _long_answer_services(sample_kb, outbox=None):
    services = scripted_services(sample_kb, ["đăng ký khai sinh cần giấy tờ gì"])
    if outbox is not None:
        services.outbox = outbox

    async def answer(*_args: object, **_kwargs: object) -> ChatReply:
        return ChatReply("call", [ChatMessage(LONG_ANSWER)], handoff=False, degraded=False)

    services.chat.handle = answer  # type: ignore[method-assign]
    said: list[str] = []
    say = services.speech.say

    def spy(text: str, cache: bool = False) -> bytes:
        said.append(text)
        return say(text, cache)

    services.speech.say = spy  # type: ignore[method-assign]
    return services, said


def _call(services, call_id: str, number: str, presses: int, said: list[str]) -> CallSession:
    async def scenario() -> CallSession:
        line = Line()
        session = CallSession(services, line.send, call_id, "audiosocket", caller_number=number)
        running = asyncio.create_task(serve(session, line.closed))
        await _until(lambda: len(line.audio) > 0)  # the greeting
        await _speak(session, tone(0.8) + hush(0.1))
        await _until(lambda: prompts.WANT_DETAILS in said)
        await asyncio.sleep(0.3)  # the offer is being said
        for press in range(presses):
            replies = sum(t in {prompts.SMS_SENT, prompts.SMS_FAILED} for t in said)
            session.listener.offer(DtmfIn("1"))
            await _until(
                lambda r=replies: (
                    sum(t in {prompts.SMS_SENT, prompts.SMS_FAILED} for t in said) > r
                    or (not number and prompts.ASK_PROCEDURE in said)
                )
            )
            if press == 0:
                await asyncio.sleep(0.2)
        session.listener.offer(CallEnded("hangup"))
        await asyncio.wait_for(running, 20.0)
        return session

    return asyncio.run(scenario())


def test_key_1_after_a_long_answer_sends_it_once_by_sms(sample_kb):
    outbox = FakeOutbox()
    services, said = _long_answer_services(sample_kb, outbox)
    _call(services, "CAsmsoffer0001", "0905 123 456", presses=2, said=said)
    assert prompts.SMS_OFFER in said
    assert said.count(prompts.SMS_SENT) == 2  # confirmed twice, sent once
    assert len(outbox.sent) == 1
    number, text, key = outbox.sent[0]
    assert number == "0905123456"
    assert key == "voice:CAsmsoffer0001:1:sms"
    assert all(document in text for document in DOCUMENTS)  # the full text, not the summary
    with session_scope(sample_kb.engine) as session:
        call = session.get(VoiceCall, "CAsmsoffer0001")
        assert call is not None and call.caller == "0905123456"


def test_no_caller_id_no_offer_and_key_1_keeps_its_menu_meaning(sample_kb):
    outbox = FakeOutbox()
    services, said = _long_answer_services(sample_kb, outbox)
    _call(services, "CAsmsoffer0002", "", presses=1, said=said)
    assert prompts.SMS_OFFER not in said and prompts.ASK_PROCEDURE in said
    assert outbox.sent == []


def test_without_an_outbox_the_caller_is_told_politely(sample_kb, caplog):
    services, said = _long_answer_services(sample_kb)
    assert isinstance(services.outbox, NoOutbox)
    with caplog.at_level(logging.WARNING, logger="voice.outbound"):
        _call(services, "CAsmsoffer0003", "+84905123456", presses=1, said=said)
    assert prompts.SMS_FAILED in said and prompts.SMS_SENT not in said
    assert any(r.message == "voice.sms_unavailable" for r in caplog.records)


def test_sms_offer_keys_numbers_and_expiry():
    outbox = FakeOutbox()
    offer = SmsOffer(outbox, "CA1", "anonymous")
    assert offer.number == "" and offer.follow_ups(1, LONG_ANSWER, "rest") == [prompts.WANT_DETAILS]
    offer = SmsOffer(outbox, "CA1", "+84 905.123.456")
    assert offer.number == "+84905123456"
    assert offer.follow_ups(3, "**Hồ sơ** gồm tờ khai.", "rest") == [
        prompts.WANT_DETAILS,
        prompts.SMS_OFFER,
    ]
    assert offer.pending
    assert asyncio.run(offer.send()) == prompts.SMS_SENT
    assert outbox.sent == [("+84905123456", "Hồ sơ gồm tờ khai.", "voice:CA1:3:sms")]
    assert offer.follow_ups(4, "Ngắn.", "") == [] and not offer.pending  # a new answer
    assert caller_number("0236 3822 111") == "02363822111" and caller_number("123") == ""


def test_media_stream_passes_the_caller_id(sample_kb):
    app = create_app(kb=sample_kb, dialogue=OfflineDialogue())
    with TestClient(app) as client:
        app.state.voice = scripted_services(sample_kb, [])
        with client.websocket_connect("/api/v1/voice/stream") as ws:
            start = {
                "callSid": "CAsmscallerid01",
                "streamSid": "MZsms",
                "customParameters": {"caller": "0905123456"},
            }
            ws.send_text(json.dumps({"event": "start", "streamSid": "MZsms", "start": start}))
            assert ws.receive_json()["event"] == "media"  # the greeting
            ws.send_text(json.dumps({"event": "stop", "streamSid": "MZsms"}))
    with session_scope(sample_kb.engine) as session:
        call = session.get(VoiceCall, "CAsmscallerid01")
        assert call is not None and call.caller == "0905123456"
