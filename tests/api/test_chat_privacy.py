"""Personal data typed in the chat never reaches the database, Rasa's tracker or the log
unmasked, the dossier look-up still works with the real code, and an idle conversation is
closed to the public (not to staff).

Rasa is played by ``TrackerRasa``: the dossier form as the Rasa project defines it (the
entity from the project's own regex, the prompts from its domain) and, like Rasa's tracker
store, it keeps everything it is sent and every event the actions return."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import String, Text, inspect, select, text, update

from api.auth.models import Role
from api.auth.service import create_user
from api.main import create_app
from knowledge_base.db import session_scope
from knowledge_base.models import utcnow
from knowledge_base.service import KnowledgeBase
from nlu.chat import ChatService
from nlu.models import ChatTurn, Conversation
from nlu.runtime import RASA_PROJECT
from tests.conftest import make_settings

PASSWORD = "privacy-desk-password"
PHONE, PHONE_DIGITS = "0938 271 645", "0938271645"
CCCD = "079203001234"
EMAIL = "lan.nguyen.privacy@example.com"
# nlu/data/sample_dossiers.csv (not the one the prompts give as an example)
DOSSIER, MASKED_DOSSIER = "000.00.12.H55-240315-0042", "***.**.**.H55-******-0042"
DOSSIER_PHONE = "0987 001 234"
PERSONAL = [PHONE, PHONE_DIGITS, CCCD, EMAIL, DOSSIER_PHONE, "0987001234"]
DOSSIER_PARTS = [DOSSIER, "240315"]


def _project_yaml(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((RASA_PROJECT / name).read_text(encoding="utf-8"))
    return loaded


def _dossier_regexes() -> list[re.Pattern[str]]:
    for item in _project_yaml("data/nlu.yml")["nlu"]:
        if item.get("regex") == "dossier_code":
            lines = item["examples"].splitlines()
            return [re.compile(line[2:]) for line in lines if line.startswith("- ")]
    raise AssertionError("the Rasa project has no dossier_code regex")


class TrackerRasa:
    def __init__(self) -> None:
        self.actions: Any = None
        self.tracker: list[dict[str, Any]] = []
        self.slots: dict[str, dict[str, Any]] = {}
        self.regexes = _dossier_regexes()
        responses = _project_yaml("domain.yml")["responses"]
        self.ask = {
            slot: responses[f"utter_ask_{slot}"][0]["text"]
            for slot in ("dossier_code", "phone_last4")
        }

    async def send(
        self, sender_id: str, text: str, metadata: dict[str, Any]
    ) -> list[dict[str, Any]]:
        self.tracker.append({"event": "user", "text": text, "metadata": metadata})
        slots = self.slots.setdefault(sender_id, {"requested_slot": None})
        requested, value = slots["requested_slot"], text
        if requested is None and "tra cứu hồ sơ" in text:
            entities = [m.group(0) for r in self.regexes if (m := r.search(text))]
            requested = slots["requested_slot"] = "dossier_code"
            if not entities:
                return self._utter(sender_id, [{"text": self.ask["dossier_code"]}])
            value = entities[0]
        if requested is None:
            return self._utter(sender_id, self._run("action_answer", sender_id, text, metadata))
        slots[requested] = value
        said = self._run("validate_dossier_form", sender_id, text, metadata)
        if slots[requested] is None:
            return self._utter(sender_id, [*said, {"text": self.ask[requested]}])
        if requested == "dossier_code":
            slots["requested_slot"] = "phone_last4"
            return self._utter(sender_id, [*said, {"text": self.ask["phone_last4"]}])
        slots["requested_slot"] = None
        checked = self._run("action_check_dossier", sender_id, text, metadata)
        return self._utter(sender_id, [*said, *checked])

    def _run(
        self, action: str, sender_id: str, text: str, metadata: dict[str, Any]
    ) -> list[dict[str, Any]]:
        slots = self.slots[sender_id]
        body = {
            "next_action": action,
            "sender_id": sender_id,
            "tracker": {
                "sender_id": sender_id,
                "slots": dict(slots),
                "latest_message": {"text": text, "metadata": metadata, "entities": []},
            },
        }
        result = self.actions.run(body)
        for event in result["events"]:
            self.tracker.append(event)
            slots[event["name"]] = event["value"]
        responses: list[dict[str, Any]] = result["responses"]
        return responses

    def _utter(self, sender_id: str, responses: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for response in responses:
            self.tracker.append({"event": "bot", "text": response["text"]})
            out.append({"recipient_id": sender_id, "text": response["text"]})
            if "custom" in response:
                out.append({"recipient_id": sender_id, "custom": response["custom"]})
        return out


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    return KnowledgeBase(make_settings(tmp_path_factory.mktemp("privacy")))


@pytest.fixture(scope="module")
def rasa() -> TrackerRasa:
    return TrackerRasa()


@pytest.fixture(scope="module")
def client(kb: KnowledgeBase, rasa: TrackerRasa) -> Iterator[TestClient]:
    app = create_app(kb=kb, dialogue=rasa)
    rasa.actions = app.state.actions
    with TestClient(app) as test_client:
        with session_scope(kb.engine) as session:
            create_user(session, "privacy-reviewer", Role.REVIEWER, PASSWORD)
        yield test_client


def _say(client: TestClient, session_id: str | None, message: str) -> dict[str, Any]:
    response = client.post("/api/v1/chat", json={"session_id": session_id, "message": message})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _stored_text(kb: KnowledgeBase) -> dict[str, str]:
    """Every text column of every table, one string per table."""
    found: dict[str, str] = {}
    with kb.engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            columns = [
                c["name"]
                for c in inspect(conn).get_columns(table)
                if isinstance(c["type"], String | Text)
            ]
            if columns:
                names = ", ".join(f'"{c}"' for c in columns)
                rows = conn.execute(text(f'SELECT {names} FROM "{table}"')).all()
                found[table] = "\n".join(str(v) for row in rows for v in row if v is not None)
    return found


def _leaks(haystack: str, needles: list[str]) -> list[str]:
    digits = re.sub(r"\D", "", haystack)
    return [
        n
        for n in needles
        if n in haystack or (n.replace(" ", "").isdigit() and n.replace(" ", "") in digits)
    ]


def test_personal_data_never_reaches_database_tracker_or_log(
    client: TestClient, kb: KnowledgeBase, rasa: TrackerRasa, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    first = _say(
        client,
        None,
        f"Tôi là Lan, SĐT {PHONE}, CCCD {CCCD}, email {EMAIL}, hỏi đăng ký kết hôn cần gì",
    )
    sid = first["session_id"]
    assert "4 số cuối" in _say(client, sid, f"tra cứu hồ sơ {DOSSIER}")["messages"][0]["text"]
    found = _say(client, sid, f"số điện thoại của tôi là {DOSSIER_PHONE}")["messages"][0]["text"]
    # the look-up worked with the real code; the answer names only the code's tail
    assert "Đang giải quyết" in found and "0042" in found and DOSSIER not in found
    # the form, given the code on its own line, asks for it, then the digits
    assert "mã hồ sơ" in _say(client, sid, "tra cứu hồ sơ")["messages"][0]["text"]
    assert "4 số cuối" in _say(client, sid, "000 00 12 H55 240315 0042")["messages"][0]["text"]
    assert "Đang giải quyết" in _say(client, sid, "1234")["messages"][0]["text"]

    # staff answer with the citizen's own number (masked) and the office's (kept)
    service: ChatService = client.app.state.chat  # type: ignore[attr-defined]
    staff = service.staff_reply(sid, f"Em gọi lại số {PHONE_DIGITS}, hoặc gọi 0293 3871 234.")
    assert staff is not None and staff.text == ("Em gọi lại số ******1645, hoặc gọi 0293 3871 234.")

    stored = _stored_text(kb)
    assert {t: _leaks(v, PERSONAL) for t, v in stored.items() if _leaks(v, PERSONAL)} == {}
    without_registry = {t: v for t, v in stored.items() if t != "dossiers"}
    assert {t: _leaks(v, DOSSIER_PARTS) for t, v in without_registry.items()} == {
        t: [] for t in without_registry
    }
    transcript = "\n".join(t.text for t in service.transcript(sid) or [])
    assert "******1645" in transcript and "********1234" in transcript
    assert "l***@example.com" in transcript and MASKED_DOSSIER in transcript

    tracker = json.dumps(rasa.tracker, ensure_ascii=False)
    assert _leaks(tracker, PERSONAL + DOSSIER_PARTS) == []
    assert MASKED_DOSSIER in tracker  # what Rasa saw and kept instead

    logged = caplog.text + "\n".join(str(r.__dict__) for r in caplog.records)
    assert _leaks(logged, PERSONAL + DOSSIER_PARTS) == []


def test_a_masked_code_is_not_revealed_in_another_conversation(client: TestClient) -> None:
    owner = _say(client, None, f"tra cứu hồ sơ {DOSSIER}")["session_id"]
    assert owner
    stranger = _say(client, None, "tra cứu hồ sơ")["session_id"]
    again = _say(client, stranger, MASKED_DOSSIER)["messages"][0]["text"]
    assert "chưa đúng định dạng" in again


def _age(kb: KnowledgeBase, session_id: str, minutes: int) -> None:
    past = utcnow() - timedelta(minutes=minutes)
    with session_scope(kb.engine) as session:
        session.execute(
            update(ChatTurn).where(ChatTurn.conversation_id == session_id).values(created_at=past)
        )
        session.execute(
            update(Conversation).where(Conversation.id == session_id).values(created_at=past)
        )


def test_an_idle_conversation_is_closed_to_the_public_not_to_staff(
    client: TestClient, kb: KnowledgeBase
) -> None:
    sid = _say(client, None, f"đăng ký khai sinh, số tôi {PHONE}")["session_id"]
    assert client.get(f"/api/v1/chat/{sid}/messages").status_code == 200
    _age(kb, sid, kb.settings.chat_session_idle_minutes + 1)

    gone = client.get(f"/api/v1/chat/{sid}/messages")
    assert gone.status_code == 410
    assert gone.json()["error"]["code"] == "session_expired" and gone.json()["error"]["message"]

    fresh = _say(client, sid, "đăng ký kết hôn")
    assert fresh["session_id"] != sid
    turns = client.get(f"/api/v1/chat/{fresh['session_id']}/messages").json()
    assert [t["role"] for t in turns] == ["citizen", "bot"]  # nothing of the old conversation

    with TestClient(client.app) as desk:
        login = desk.post(
            "/api/v1/auth/login", json={"username": "privacy-reviewer", "password": PASSWORD}
        )
        headers = {"X-CSRF-Token": login.json()["csrf_token"]}
        old = desk.get(f"/api/v1/staff/conversations/{sid}/turns", headers=headers)
        assert old.status_code == 200 and old.json()[0]["text"].endswith("******1645")
    with session_scope(kb.engine) as session:
        assert session.scalar(select(ChatTurn.id).where(ChatTurn.conversation_id == sid))


def test_a_recent_conversation_stays_open(client: TestClient, kb: KnowledgeBase) -> None:
    sid = _say(client, None, "đăng ký khai sinh")["session_id"]
    _age(kb, sid, kb.settings.chat_session_idle_minutes - 5)
    assert client.get(f"/api/v1/chat/{sid}/messages").status_code == 200
    assert _say(client, sid, "còn lệ phí thì sao?")["session_id"] == sid


def test_the_widget_keeps_its_session_in_session_storage() -> None:
    widget = (Path(__file__).resolve().parents[2] / "api" / "static" / "widget.js").read_text(
        encoding="utf-8"
    )
    assert "localStorage.setItem" not in widget and "localStorage.getItem" not in widget
    assert "localStorage.removeItem(SESSION_KEY)" in widget  # older versions' key goes
    assert "sessionStorage.setItem(SESSION_KEY" in widget
    assert "r.status === 410" in widget  # an ended conversation is forgotten
