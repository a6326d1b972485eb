"""The staff site's one-click links from a wording to a procedure: on the inbox page and on a
handoff conversation."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.main import create_app
from knowledge_base.db import session_scope
from knowledge_base.models import WordingLink
from knowledge_base.service import KnowledgeBase
from nlu.chat import OfflineDialogue
from nlu.inbox import wording_key
from tests.api.conftest import staffed_kb
from tests.api.site.test_pages import sign_in

BUS = "Xe buýt số 5 chạy mấy giờ?"


@pytest.fixture
def kb(tmp_path: Path) -> KnowledgeBase:
    return staffed_kb(tmp_path)


@pytest.fixture
def site(kb):
    with TestClient(create_app(kb=kb, dialogue=OfflineDialogue())) as client:
        yield client


def links(kb: KnowledgeBase) -> list[tuple[str, str, str, str | None]]:
    with session_scope(kb.engine) as session:
        rows = session.scalars(select(WordingLink).order_by(WordingLink.id)).all()
        return [(r.question, r.procedure_code, r.source, r.conversation_id) for r in rows]


def test_inbox_group_is_linked_from_the_page(site, kb):
    site.post("/api/v1/chat", json={"message": BUS})
    code = sorted(kb.known_codes())[0]
    form = {"key": wording_key(BUS), "code": code}
    anonymous = site.post("/staff/inbox/link", data=form, follow_redirects=False)
    assert anonymous.status_code == 303 and "/staff/login" in anonymous.headers["location"]
    csrf = sign_in(site, "editor1")
    page = site.get("/staff/inbox").text
    assert "Gắn vào thủ tục này" in page and "Mã thủ tục khác" in page

    wrong = site.post("/staff/inbox/link", data={**form, "csrf_token": csrf, "code": "9.999999"})
    assert wrong.status_code == 422 and "Không có thủ tục mã «9.999999»" in wrong.text
    assert BUS in wrong.text  # the group is still waiting
    linked = site.post("/staff/inbox/link", data={**form, "csrf_token": csrf})
    assert linked.status_code == 200 and linked.url.path == "/staff/inbox"
    assert "Đã gắn các cách hỏi vào thủ tục." in linked.text and BUS not in linked.text
    assert links(kb) == [(BUS, code, "inbox", None)]


def test_handoff_page_records_the_procedure_answered_about(site, kb):
    sid = site.post("/api/v1/chat", json={"message": "hỏi về đất đai"}).json()["session_id"]
    handoff = {
        "next_action": "action_handoff",
        "sender_id": sid,
        "tracker": {"slots": {}, "latest_message": {"text": "/handoff"}},  # the button
    }
    site.app.state.actions.run(handoff)
    code = sorted(kb.known_codes())[0]
    path = f"/staff/handoff/{sid}/procedure"
    anonymous = site.post(path, data={"code": code}, follow_redirects=False)
    assert anonymous.status_code == 303 and "/staff/login" in anonymous.headers["location"]
    csrf = sign_in(site, "editor1")
    page = site.get(f"/staff/handoff/{sid}").text
    assert "Thủ tục đã tư vấn" in page and "Câu hỏi của công dân: hỏi về đất đai" in page

    wrong = site.post(path, data={"csrf_token": csrf, "code": "9.999999"})
    assert wrong.status_code == 422 and "Không có thủ tục mã" in wrong.text
    picked = site.post(path, data={"csrf_token": csrf, "code": code})
    assert picked.status_code == 200 and "Đã ghi nhận thủ tục đã tư vấn." in picked.text
    assert links(kb) == [("hỏi về đất đai", code, "handoff", sid)]
