"""The chat API with a scripted stand-in for Rasa (the real one is in tests/nlu/test_rasa_e2e.py)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.auth.models import Role, StaffUser
from api.auth.service import create_user
from api.main import create_app
from knowledge_base.db import session_scope
from nlu.chat import DialogueUnavailableError

STAFF: dict[str, str] = {}  # the CSRF header of the desk user, filled in by the fixture
DESK_PASSWORD = "handoff-desk-password"


class ScriptedDialogue:
    """Routes a message to one of our actions the way Rasa's rules would, and answers in the
    REST channel's shape (text and buttons, then ``custom`` as its own message)."""

    def __init__(self) -> None:
        self.up = True
        self.actions: Any = None

    async def send(
        self, sender_id: str, text: str, metadata: dict[str, Any]
    ) -> list[dict[str, Any]]:
        if not self.up:
            raise DialogueUnavailableError("connection refused")
        action = "action_handoff" if "nhân viên" in text else "action_answer"
        body = {
            "next_action": action,
            "sender_id": sender_id,
            "tracker": {"slots": {}, "latest_message": {"text": text, "metadata": metadata}},
        }
        out: list[dict[str, Any]] = []
        for response in self.actions.run(body)["responses"]:
            out.append(
                {
                    "recipient_id": sender_id,
                    "text": response["text"],
                    "buttons": response["buttons"],
                }
            )
            if "custom" in response:
                out.append({"recipient_id": sender_id, "custom": response["custom"]})
        return out


@pytest.fixture(scope="module")
def dialogue() -> ScriptedDialogue:
    return ScriptedDialogue()


@pytest.fixture(scope="module")
def client(sample_kb, dialogue):
    with session_scope(sample_kb.engine) as session:
        if session.scalar(select(StaffUser).where(StaffUser.username == "desk1")) is None:
            create_user(session, "desk1", Role.EDITOR, DESK_PASSWORD)
    app = create_app(kb=sample_kb, dialogue=dialogue)
    dialogue.actions = app.state.actions
    with TestClient(app) as test_client:
        login = test_client.post(
            "/api/v1/auth/login", json={"username": "desk1", "password": DESK_PASSWORD}
        )
        STAFF["X-CSRF-Token"] = login.json()["csrf_token"]
        yield test_client


def test_first_message_gets_a_server_issued_session(client):
    body = client.post(
        "/api/v1/chat", json={"session_id": None, "message": "đăng ký kết hôn cần gì"}
    ).json()
    assert set(body) == {"session_id", "messages", "handoff", "degraded", "kind", "procedure_code"}
    assert len(body["session_id"]) >= 20 and not body["degraded"] and not body["handoff"]
    assert "Đăng ký kết hôn" in body["messages"][0]["text"]
    turns = client.get(f"/api/v1/chat/{body['session_id']}/messages").json()
    assert [t["role"] for t in turns] == ["citizen", "bot"]


def test_rasa_down_falls_back_to_the_knowledge_base_and_recovers(client, dialogue):
    session = client.post("/api/v1/chat", json={"message": "xin chào"}).json()["session_id"]
    dialogue.up = False
    try:
        degraded = client.post(
            "/api/v1/chat", json={"session_id": session, "message": "lệ phí làm hộ chiếu"}
        ).json()
        # the same dialogue as with Rasa: the two passport procedures offered, then chosen
        assert degraded["degraded"] and degraded["kind"] == "choose"
        chosen = client.post("/api/v1/chat", json={"session_id": session, "message": "số 2"})
        assert chosen.json()["kind"] == "answer" and "đồng" in chosen.json()["messages"][0]["text"]
        refused = client.post(
            "/api/v1/chat", json={"session_id": session, "message": "giá vàng hôm nay"}
        ).json()
        assert refused["degraded"] and refused["messages"][0]["buttons"][0]["payload"] == "/handoff"
    finally:
        dialogue.up = True
    back = client.post(
        "/api/v1/chat", json={"session_id": session, "message": "đăng ký khai sinh"}
    ).json()
    assert not back["degraded"]


def test_handoff_silences_the_bot_until_staff_release(client):
    session = client.post("/api/v1/chat", json={"message": "cho tôi gặp nhân viên"}).json()
    assert session["handoff"]
    sid = session["session_id"]
    quiet = client.post(
        "/api/v1/chat", json={"session_id": sid, "message": "alo có ai không"}
    ).json()
    assert quiet["handoff"] and quiet["messages"] == []

    no_csrf = client.post(f"/api/v1/staff/conversations/{sid}/reply", json={"text": "x"})
    assert no_csrf.status_code == 403
    waiting = client.get("/api/v1/staff/conversations", headers=STAFF).json()
    assert sid in [c["id"] for c in waiting]
    transcript = client.get(f"/api/v1/staff/conversations/{sid}/turns", headers=STAFF).json()
    assert [t["role"] for t in transcript] == ["citizen", "bot", "citizen"]
    reply = client.post(
        f"/api/v1/staff/conversations/{sid}/reply",
        json={"text": "Chào anh, em nghe."},
        headers=STAFF,
    )
    assert reply.status_code == 200
    after = transcript[-1]["id"]
    polled = client.get(f"/api/v1/chat/{sid}/messages", params={"after": after}).json()
    assert [(t["role"], t["text"]) for t in polled] == [("staff", "Chào anh, em nghe.")]

    assert (
        client.post(f"/api/v1/staff/conversations/{sid}/release", headers=STAFF).status_code == 204
    )
    answered = client.post(
        "/api/v1/chat", json={"session_id": sid, "message": "đăng ký kết hôn"}
    ).json()
    assert not answered["handoff"] and answered["messages"]


@pytest.mark.parametrize(
    "payload",
    [
        {"message": ""},
        {"message": "x" * 2001},
        {"message": "???"},
        {"session_id": "bad id with spaces", "message": "xin chào"},
        {"session_id": "short", "message": "xin chào"},
    ],
)
def test_chat_rejects_bad_input(client, payload):
    response = client.post("/api/v1/chat", json=payload)
    assert response.status_code == 422
    assert response.json()["error"]["message"]


def test_unknown_session_and_the_desk_needs_a_login(client):
    assert client.get("/api/v1/chat/unknownsession123/messages").status_code == 404
    with TestClient(client.app) as anonymous:
        assert anonymous.get("/api/v1/staff/conversations").status_code == 401
    assert client.post("/api/v1/staff/conversations/unknownsession123/release").status_code == 403
    assert (
        client.post(
            "/api/v1/staff/conversations/unknownsession123/release", headers=STAFF
        ).status_code
        == 404
    )


def test_action_webhook_answers_loopback(client):
    body = {
        "next_action": "action_answer",
        "sender_id": "webhook-test",
        "tracker": {"slots": {}, "latest_message": {"text": "đăng ký khai sinh cần gì"}},
    }
    response = client.post("/api/v1/rasa/webhook", json=body)
    assert response.status_code == 200 and response.json()["responses"]
    unknown = client.post("/api/v1/rasa/webhook", json={**body, "next_action": "nope"})
    assert unknown.status_code == 400
