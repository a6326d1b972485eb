"""The WebSocket media stream (Twilio's JSON shape) through the FastAPI app: greeting, barge-in
as a ``clear`` event, a spoken question answered, the stored call and its outcome endpoint."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.main import create_app
from knowledge_base.db import session_scope
from nlu.chat import OfflineDialogue
from nlu.models import ChatTurn
from tests.voice.conftest import hush, scripted_services, tone
from voice.audio import ulaw_encode

pytestmark = pytest.mark.usefixtures("espeak")


def media(pcm: bytes) -> list[str]:
    samples = np.frombuffer(pcm, "<i2").astype(np.int16)
    return [
        json.dumps(
            {
                "event": "media",
                "streamSid": "MZtest",
                "media": {"payload": base64.b64encode(ulaw_encode(samples[i : i + 160])).decode()},
            }
        )
        for i in range(0, samples.size, 160)
    ]


def test_media_stream_call(sample_kb):
    app = create_app(kb=sample_kb, dialogue=OfflineDialogue())
    with TestClient(app) as client:
        app.state.voice = scripted_services(sample_kb, ["đăng ký khai sinh cần giấy tờ gì"])
        with client.websocket_connect("/api/v1/voice/stream") as ws:
            ws.send_text(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
            start = {"callSid": "CAmediastream01", "streamSid": "MZtest"}
            ws.send_text(json.dumps({"event": "start", "streamSid": "MZtest", "start": start}))
            assert ws.receive_json()["event"] == "media"  # the greeting
            for message in media(tone(1.0)):
                ws.send_text(message)
            events = []
            while "clear" not in events:
                events.append(ws.receive_json()["event"])
            for message in media(hush(0.2)):
                ws.send_text(message)
            answer = ws.receive_json()
            assert answer["event"] == "media" and answer["streamSid"] == "MZtest"
            ws.send_text(json.dumps({"event": "stop", "streamSid": "MZtest"}))
        outcome = client.get("/api/v1/voice/calls/CAmediastream01")
        assert outcome.status_code == 200 and outcome.text in {"hung_up", "in_progress"}
        assert client.get("/api/v1/voice/calls/CAunknowncall").status_code == 404
    with session_scope(sample_kb.engine) as session:
        texts = session.scalars(
            select(ChatTurn.text).where(ChatTurn.conversation_id == "CAmediastream01")
        ).all()
    assert texts[0] == "đăng ký khai sinh cần giấy tờ gì" and len(texts) >= 2


def test_media_stream_refuses_garbage(sample_kb):
    app = create_app(kb=sample_kb, dialogue=OfflineDialogue())
    with TestClient(app) as client, client.websocket_connect("/api/v1/voice/stream") as ws:
        ws.send_text("this is not json")
        closed = ws.receive()
        assert closed["type"] == "websocket.close" and closed["code"] == 1002
