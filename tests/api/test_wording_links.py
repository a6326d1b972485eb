"""Staff tying citizens' wordings to a procedure through the API, on SQLite and PostgreSQL: an
inbox group linked in one click, the procedure picked after a handoff; both become ranker
training examples."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.main import create_app
from knowledge_base.db import session_scope
from knowledge_base.models import WordingLink
from knowledge_base.ranking.pipeline import staff_examples
from knowledge_base.ranking.training import Example
from knowledge_base.service import KnowledgeBase
from nlu.chat import OfflineDialogue
from tests.api.conftest import staffed_kb
from tests.api.test_admin_faq import login

BUS = ["Xe buýt số 5 chạy mấy giờ?", "xe buyt so 5 chay may gio"]


@pytest.fixture
def kb(database_url: str, tmp_path: Path) -> KnowledgeBase:
    return staffed_kb(tmp_path, database_url=database_url)


@pytest.fixture
def app(kb):
    with TestClient(create_app(kb=kb, dialogue=OfflineDialogue())) as client:
        yield client


def examples(kb: KnowledgeBase) -> list[Example]:
    with session_scope(kb.engine) as session:
        return staff_examples(session)


def test_inbox_group_linked_to_a_procedure_leaves_the_inbox(app, kb):
    for message in [*BUS, "giá vé xe buýt số 5 bao nhiêu"]:
        assert app.post("/api/v1/chat", json={"message": message}).status_code == 200
    code = sorted(kb.known_codes())[0]
    anonymous = app.post("/api/v1/admin/inbox/link", json={"key": "x", "code": code})
    assert anonymous.status_code == 401
    editor = login(app, "editor1")
    top = app.get("/api/v1/admin/inbox").json()[0]
    assert set(top["wordings"]) == set(BUS)

    unknown = app.post(
        "/api/v1/admin/inbox/link", json={"key": top["key"], "code": "9.999999"}, headers=editor
    )
    assert unknown.status_code == 422
    error = unknown.json()["error"]
    assert error["code"] == "invalid_request" and error["details"][0]["field"] == "code"
    missing = app.post(
        "/api/v1/admin/inbox/link", json={"key": "no such group", "code": code}, headers=editor
    )
    assert missing.status_code == 404

    linked = app.post(
        "/api/v1/admin/inbox/link", json={"key": top["key"], "code": f" {code} "}, headers=editor
    )
    assert linked.status_code == 201, linked.text
    assert linked.json()["code"] == code and set(linked.json()["questions"]) == set(BUS)
    assert top["key"] not in {g["key"] for g in app.get("/api/v1/admin/inbox").json()}
    assert {Example(q, (code,), "staff") for q in BUS} <= set(examples(kb))


def test_handoff_procedure_pick_links_the_citizens_questions(app, kb):
    sid = app.post("/api/v1/chat", json={"message": BUS[0]}).json()["session_id"]
    app.post("/api/v1/chat", json={"session_id": sid, "message": BUS[1]})
    chat = app.app.state.chat
    # what the Rasa dialogue records when the citizen presses "Gặp nhân viên"
    chat.record_exchange(sid, "/handoff", ["Dạ, tôi đang chuyển..."], "web", intent="handoff")
    app.app.state.actions.run(
        {
            "next_action": "action_handoff",
            "sender_id": sid,
            "tracker": {"slots": {}, "latest_message": {"text": "/handoff"}},  # the button
        }
    )
    app.post("/api/v1/chat", json={"session_id": sid, "message": "alo có ai không"})
    code = sorted(kb.known_codes())[0]
    path = f"/api/v1/staff/conversations/{sid}/procedure"
    assert app.post(path, json={"code": code}).status_code == 401
    editor = login(app, "editor1")

    assert app.post(path, json={"code": "9.999999"}, headers=editor).status_code == 422
    unknown = "/api/v1/staff/conversations/no-such-conversation/procedure"
    assert app.post(unknown, json={"code": code}, headers=editor).status_code == 404
    for _ in range(2):  # picking the same procedure twice records it once
        picked = app.post(path, json={"code": code}, headers=editor)
        assert picked.status_code == 201, picked.text
        assert picked.json() == {"code": code, "questions": BUS}
    with session_scope(kb.engine) as session:
        rows = session.scalars(select(WordingLink).order_by(WordingLink.id)).all()
        assert [(r.question, r.source, r.conversation_id, r.actor) for r in rows] == [
            (q, "handoff", sid, "editor1") for q in BUS
        ]
        assert session.scalar(select(func.count()).select_from(WordingLink)) == 2
    assert {Example(q, (code,), "staff") for q in BUS} <= set(examples(kb))


def test_a_conversation_without_questions_has_nothing_to_link(app, kb):
    sid = app.post("/api/v1/chat", json={"message": "/handoff"}).json()["session_id"]
    editor = login(app, "editor1")
    code = sorted(kb.known_codes())[0]
    response = app.post(
        f"/api/v1/staff/conversations/{sid}/procedure", json={"code": code}, headers=editor
    )
    assert response.status_code == 409
