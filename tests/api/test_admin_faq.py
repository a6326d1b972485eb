"""Staff login, roles, CSRF, session expiry and the FAQ workflow through the API, on SQLite and
PostgreSQL, with the search index refreshed on publish."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from api.auth.models import StaffSession
from api.main import create_app
from knowledge_base import service as kb_service
from knowledge_base.db import session_scope
from knowledge_base.service import KnowledgeBase
from nlu import tickets
from nlu.chat import OfflineDialogue
from tests.api.conftest import PASSWORD, staffed_kb

FAQ = {
    "questions": ["Bộ phận một cửa tỉnh làm việc thứ bảy không?"],
    "answer": "Bộ phận một cửa tỉnh nhận hồ sơ sáng thứ bảy từ 7 giờ 30 đến 11 giờ 30.",
    "procedure_codes": [],
    "tags": ["giờ làm việc"],
}


@pytest.fixture
def kb(database_url: str, tmp_path: Path) -> KnowledgeBase:
    return staffed_kb(tmp_path, database_url=database_url)


@pytest.fixture
def app(kb):
    with TestClient(create_app(kb=kb, dialogue=OfflineDialogue())) as client:
        yield client


def login(client: TestClient, username: str) -> dict[str, str]:
    response = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"X-CSRF-Token": response.json()["csrf_token"]}


def test_login_rejects_wrong_password_and_needs_a_session(app):
    wrong = app.post("/api/v1/auth/login", json={"username": "editor1", "password": "nope"})
    assert wrong.status_code == 401
    assert app.get("/api/v1/admin/faq").status_code == 401


def test_csrf_token_is_required_for_changes(app):
    login(app, "editor1")
    assert app.post("/api/v1/admin/faq", json=FAQ).status_code == 403
    bad = app.post("/api/v1/admin/faq", json=FAQ, headers={"X-CSRF-Token": "forged"})
    assert bad.status_code == 403


def test_expired_session_must_log_in_again(app, kb):
    headers = login(app, "editor1")
    with session_scope(kb.engine) as session:
        session.execute(
            update(StaffSession).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    response = app.post("/api/v1/admin/faq", json=FAQ, headers=headers)
    assert response.status_code == 401 and "expired" in response.json()["error"]["message"]


def test_workflow_roles_publish_rollback_and_search(app, kb):
    editor = login(app, "editor1")
    created = app.post("/api/v1/admin/faq", json=FAQ, headers=editor).json()
    entry, version = created["id"], created["version"]
    assert created["status"] == "draft" and created["published_version"] is None
    assert app.post(f"/api/v1/admin/faq/{entry}/publish", headers=editor).status_code == 403
    assert (
        app.post(f"/api/v1/admin/faq/{entry}/submit", headers=editor).json()["status"]
        == "in_review"
    )
    assert not kb.ask("bộ phận một cửa làm việc thứ bảy không").faq

    reviewer = login(app, "reviewer1")
    published = app.post(f"/api/v1/admin/faq/{entry}/publish", headers=reviewer).json()
    assert published["status"] == "published" and published["published_version"] == version
    assert "Đã cập nhật chỉ mục" in published["index"]
    answer = kb.ask("bộ phận một cửa làm việc thứ bảy không")
    assert answer.faq and "7 giờ 30" in answer.answer

    editor = login(app, "editor1")
    changed = {**FAQ, "answer": "Bộ phận một cửa tỉnh nghỉ thứ bảy.", "version": version}
    v2 = app.put(f"/api/v1/admin/faq/{entry}", json=changed, headers=editor).json()
    assert v2["version"] == 2 and v2["status"] == "draft" and v2["published_version"] == 1
    assert "7 giờ 30" in kb.ask("bộ phận một cửa làm việc thứ bảy không").answer  # still live v1

    stale = app.put(
        f"/api/v1/admin/faq/{entry}", json={**changed, "answer": "khác"}, headers=editor
    )
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "version_conflict"

    diff = app.get(f"/api/v1/admin/faq/{entry}/diff", params={"from": 1, "to": 2}).json()
    assert (
        "-Trả lời: Bộ phận một cửa tỉnh nhận hồ sơ" in diff
        and "+Trả lời: Bộ phận một cửa tỉnh nghỉ" in diff
    )

    reviewer = login(app, "reviewer1")
    unsent = app.post(f"/api/v1/admin/faq/{entry}/publish", headers=reviewer)
    assert unsent.status_code == 409 and unsent.json()["error"]["code"] == "four_eyes"
    editor = login(app, "editor1")
    app.post(f"/api/v1/admin/faq/{entry}/submit", headers=editor)
    reviewer = login(app, "reviewer1")
    app.post(f"/api/v1/admin/faq/{entry}/publish", headers=reviewer)
    assert "nghỉ thứ bảy" in kb.ask("bộ phận một cửa làm việc thứ bảy không").answer
    rolled = app.post(
        f"/api/v1/admin/faq/{entry}/rollback", json={"version": 1}, headers=reviewer
    ).json()
    assert rolled["version"] == 3 and rolled["published_version"] == 3
    assert "7 giờ 30" in kb.ask("bộ phận một cửa làm việc thứ bảy không").answer
    assert [v["note"] for v in app.get(f"/api/v1/admin/faq/{entry}/versions").json()] == [
        "created",
        "edited",
        "rollback to 1",
    ]
    archived = app.post(f"/api/v1/admin/faq/{entry}/archive", headers=reviewer).json()
    assert archived["status"] == "archived"
    assert not kb.ask("bộ phận một cửa làm việc thứ bảy không").faq
    actions = [a["action"] for a in app.get("/api/v1/admin/audit").json()]
    assert actions[:3] == ["archive", "rollback", "publish"] and "create" in actions


def test_failed_index_build_keeps_the_old_index(app, kb, monkeypatch):
    editor = login(app, "editor1")
    entry = app.post("/api/v1/admin/faq", json=FAQ, headers=editor).json()["id"]
    app.post(f"/api/v1/admin/faq/{entry}/submit", headers=editor)
    reviewer = login(app, "reviewer1")

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(kb_service, "build_index", broken)
    before = kb.searcher.index.manifest.built_at
    published = app.post(f"/api/v1/admin/faq/{entry}/publish", headers=reviewer).json()
    assert published["status"] == "published" and "disk full" in published["index"]
    assert kb.searcher.index.manifest.built_at == before
    assert kb.ask("đăng ký khai sinh cần giấy tờ gì").answerable  # still serving


def test_unknown_entry_and_bad_input(app):
    editor = login(app, "editor1")
    assert app.get("/api/v1/admin/faq/9999").status_code == 404
    empty = app.post("/api/v1/admin/faq", json={**FAQ, "questions": []}, headers=editor)
    assert empty.status_code == 422


def test_feedback_tickets_list_and_reply(app, kb):
    with session_scope(kb.engine) as session:
        number = tickets.create(session, "conv-1", "Cán bộ trả hồ sơ trễ hẹn, gọi 0912345678")
    assert app.get("/api/v1/admin/feedback").status_code == 401
    editor = login(app, "editor1")
    listed = app.get("/api/v1/admin/feedback", params={"status": "moi"}).json()
    assert [t["ticket"] for t in listed] == [number] and listed[0]["contact"] == "0912345678"
    reply = {"status": "da_tra_loi", "reply": "Sở đã nhắc nhở cán bộ và xin lỗi anh."}
    answered = app.post(f"/api/v1/admin/feedback/{number}", json=reply, headers=editor).json()
    assert answered["status"] == "da_tra_loi" and answered["reply"].startswith("Sở đã")
    assert app.get("/api/v1/admin/feedback", params={"status": "moi"}).json() == []
    missing = app.post("/api/v1/admin/feedback/PA-2026-999999", json=reply, headers=editor)
    assert missing.status_code == 404


def test_unanswered_inbox_groups_drafts_and_dismisses(app):
    for message in [
        "Xe buýt số 5 chạy mấy giờ?",
        "xe buyt so 5 chay may gio",
        "giá vé xe buýt số 5 bao nhiêu",
        "đăng ký khai sinh cần giấy tờ gì",  # answered: never in the inbox
    ]:
        assert app.post("/api/v1/chat", json={"message": message}).status_code == 200
    editor = login(app, "editor1")
    groups = app.get("/api/v1/admin/inbox").json()
    assert [g["count"] for g in groups] == [2, 1]
    top = groups[0]
    assert set(top["wordings"]) == {"Xe buýt số 5 chạy mấy giờ?", "xe buyt so 5 chay may gio"}
    assert "khai sinh" not in " ".join(g["question"] for g in groups)
    draft = app.post("/api/v1/admin/inbox/draft", json={"key": top["key"]}, headers=editor)
    assert draft.status_code == 201
    faq = app.get(f"/api/v1/admin/faq/{draft.json()['faq_id']}").json()
    assert faq["status"] == "draft" and set(faq["questions"]) == set(top["wordings"])
    dismissed = app.post(
        "/api/v1/admin/inbox/dismiss", json={"key": groups[1]["key"]}, headers=editor
    )
    assert dismissed.status_code == 204
    assert app.get("/api/v1/admin/inbox").json() == []
    gone = app.post("/api/v1/admin/inbox/draft", json={"key": top["key"]}, headers=editor)
    assert gone.status_code == 404


def test_four_eyes_a_reviewer_cannot_publish_their_own_version(app, tmp_path):
    reviewer = login(app, "reviewer1")
    own = app.post("/api/v1/admin/faq", json=FAQ, headers=reviewer).json()
    app.post(f"/api/v1/admin/faq/{own['id']}/submit", headers=reviewer)
    refused = app.post(f"/api/v1/admin/faq/{own['id']}/publish", headers=reviewer)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "four_eyes"
    admin = login(app, "admin1")
    assert app.post(f"/api/v1/admin/faq/{own['id']}/publish", headers=admin).status_code == 200


def test_a_single_person_office_may_publish_alone(tmp_path):
    kb = staffed_kb(tmp_path, single_person_office=True)
    with TestClient(create_app(kb=kb, dialogue=OfflineDialogue())) as client:
        reviewer = login(client, "reviewer1")
        own = client.post("/api/v1/admin/faq", json=FAQ, headers=reviewer).json()
        published = client.post(f"/api/v1/admin/faq/{own['id']}/publish", headers=reviewer)
        assert published.status_code == 200 and published.json()["status"] == "published"
