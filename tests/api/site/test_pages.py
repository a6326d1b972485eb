"""The staff site's server-rendered pages: login, role checks, CSRF on forms, the FAQ workflow
with optimistic locking, the desk pages, catalogue upload, dashboard and province figures."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from knowledge_base.service import KnowledgeBase
from nlu.chat import OfflineDialogue
from tests.api.conftest import PASSWORD, staffed_kb

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def kb(tmp_path: Path) -> KnowledgeBase:
    return staffed_kb(tmp_path, province_name="tỉnh Hậu Giang")


@pytest.fixture
def site(kb):
    with TestClient(create_app(kb=kb, dialogue=OfflineDialogue())) as client:
        yield client


def sign_in(client: TestClient, username: str) -> str:
    response = client.post(
        "/staff/login", data={"username": username, "password": PASSWORD, "next": "/staff/faq"}
    )
    assert response.status_code == 200 and response.url.path == "/staff/faq", response.text
    return CSRF_RE.search(response.text).group(1)


def new_entry(client: TestClient, csrf: str, answer: str = "Nhận hồ sơ sáng thứ bảy.") -> int:
    response = client.post(
        "/staff/faq/new",
        data={
            "csrf_token": csrf,
            "questions": "Bộ phận một cửa làm việc thứ bảy không?\nthứ bảy có nhận hồ sơ không",
            "answer": answer,
            "procedure_codes": "",
            "tags": "giờ làm việc",
        },
    )
    assert response.status_code == 200, response.text
    return int(response.url.path.rsplit("/", 1)[1])


def test_pages_need_a_login_and_the_login_page_is_vietnamese(site):
    response = site.get("/staff/faq", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/staff/login")
    wrong = site.post("/staff/login", data={"username": "editor1", "password": "sai-mat-khau"})
    assert wrong.status_code == 401 and "không đúng" in wrong.text
    # A `next` pointing off the site is ignored (no open redirect).
    login = site.post(
        "/staff/login",
        data={"username": "editor1", "password": PASSWORD, "next": "https://evil.example/"},
        follow_redirects=False,
    )
    assert login.headers["location"] == "/staff"


def test_every_page_renders_for_an_admin(site):
    sign_in(site, "admin1")
    for path in [
        "/staff",
        "/staff/faq",
        "/staff/faq/new",
        "/staff/procedures",
        "/staff/inbox",
        "/staff/handoff",
        "/staff/feedback",
        "/staff/facts",
        "/staff/users",
    ]:
        response = site.get(path)
        assert response.status_code == 200, path
        assert '<html lang="vi">' in response.text


def test_form_posts_need_the_csrf_token(site):
    sign_in(site, "editor1")
    response = site.post("/staff/faq/new", data={"questions": "a?", "answer": "b"})
    assert response.status_code == 403 and "không có quyền" in response.text


def test_editor_cannot_publish_but_a_reviewer_can_and_chat_answers(site):
    csrf = sign_in(site, "editor1")
    entry = new_entry(site, csrf, "Bộ phận một cửa nhận hồ sơ sáng thứ bảy từ 7 giờ 30.")
    page = site.get(f"/staff/faq/{entry}").text
    assert "Duyệt và xuất bản" not in page and "Gửi duyệt" in page
    forced = site.post(f"/staff/faq/{entry}/publish", data={"csrf_token": csrf})
    assert forced.status_code == 403
    assert site.post(f"/staff/faq/{entry}/submit", data={"csrf_token": csrf}).status_code == 200
    site.cookies.clear()
    csrf = sign_in(site, "reviewer1")
    published = site.post(f"/staff/faq/{entry}/publish", data={"csrf_token": csrf})
    assert published.status_code == 200 and "Đã cập nhật chỉ mục" in published.text
    reply = site.post("/api/v1/chat", json={"message": "Bộ phận một cửa làm việc thứ bảy không?"})
    assert "7 giờ 30" in reply.json()["messages"][0]["text"]


def test_second_editor_gets_a_conflict_and_keeps_their_text(site):
    csrf = sign_in(site, "editor1")
    entry = new_entry(site, csrf)
    form = {
        "csrf_token": csrf,
        "questions": "Thứ bảy có làm việc?",
        "tags": "",
        "procedure_codes": "",
    }
    first = site.post(f"/staff/faq/{entry}", data={**form, "version": "1", "answer": "Bản của A"})
    assert first.status_code == 200
    second = site.post(f"/staff/faq/{entry}", data={**form, "version": "1", "answer": "Bản của B"})
    assert second.status_code == 409 and "vừa được người khác lưu" in second.text
    assert "Bản của B" in second.text  # the second editor's text is still in the form


def test_rollback_and_diff_pages(site):
    csrf = sign_in(site, "reviewer1")
    entry = new_entry(site, csrf, "Câu trả lời một")
    site.post(f"/staff/faq/{entry}/publish", data={"csrf_token": csrf})
    form = {
        "csrf_token": csrf,
        "questions": "Thứ bảy có làm việc?",
        "tags": "",
        "procedure_codes": "",
    }
    site.post(f"/staff/faq/{entry}", data={**form, "version": "1", "answer": "Câu trả lời hai"})
    site.post(f"/staff/faq/{entry}/publish", data={"csrf_token": csrf})
    diff = site.get(f"/staff/faq/{entry}/diff?from=1&to=2")
    assert "+Trả lời: Câu trả lời hai" in diff.text and "-Trả lời: Câu trả lời một" in diff.text
    rolled = site.post(f"/staff/faq/{entry}/rollback", data={"csrf_token": csrf, "version": "1"})
    assert rolled.status_code == 200 and "đang trả lời công dân: phiên bản 3" in rolled.text


def test_province_figures_are_answered_in_chat(site):
    csrf = sign_in(site, "admin1")
    bad = site.post("/staff/facts", data={"csrf_token": csrf, "online_services": "nhiều lắm"})
    assert bad.status_code == 422 and "không phải là một con số" in bad.text
    saved = site.post(
        "/staff/facts",
        data={
            "csrf_token": csrf,
            "online_services": "1.245",
            "on_time_rate": "98,7",
            "online_submission_share": "",
            "as_of": "tháng 10/2026",
        },
    )
    assert saved.status_code == 200 and "Đã lưu số liệu" in saved.text
    answer = site.post(
        "/api/v1/chat", json={"message": "tỉnh mình có bao nhiêu dịch vụ công trực tuyến?"}
    )
    text = answer.json()["messages"][0]["text"]
    assert "1.245 dịch vụ công trực tuyến" in text and "tháng 10/2026" in text
    rate = site.post("/api/v1/ask", json={"question": "tỷ lệ hồ sơ giải quyết đúng hạn của tỉnh?"})
    assert "98,7%" in rate.json()["answer"]
    site.cookies.clear()
    sign_in(site, "editor1")
    assert site.get("/staff/facts").status_code == 403


def test_catalogue_upload_reports_and_indexes(site, kb):
    csrf = sign_in(site, "reviewer1")
    record = json.loads(
        (Path(__file__).resolve().parents[3] / "knowledge_base/data/sample_catalogue.jsonl")
        .read_text(encoding="utf-8")
        .splitlines()[0]
    )
    record["code"], record["name"] = "9.999999", "Cấp giấy phép nuôi chim yến thử nghiệm"
    payload = gzip.compress((json.dumps(record, ensure_ascii=False) + "\n{broken\n").encode())
    response = site.post(
        "/staff/procedures/upload",
        data={"csrf_token": csrf},
        files={"file": ("them.jsonl.gz", payload, "application/gzip")},
    )
    assert response.status_code == 207, response.text
    assert "Bị từ chối" in response.text and "not valid JSON" in response.text
    assert kb.procedure("9.999999") is not None
    found = site.get("/staff/procedures", params={"q": "nuôi chim yến"})
    assert "9.999999" in found.text
    junk = site.post(
        "/staff/procedures/upload",
        data={"csrf_token": csrf},
        files={"file": ("x.jsonl", b"\xff\xfe\x00bad", "application/octet-stream")},
    )
    assert junk.status_code == 422 and "UTF-8" in junk.text


def test_dashboard_counts_and_csv(site):
    for message in ["đăng ký khai sinh cần giấy tờ gì", "=HYPERLINK(giá vàng hôm nay)"]:
        site.post("/api/v1/chat", json={"message": message})
    sign_in(site, "editor1")
    board = site.get("/staff")
    assert board.status_code == 200 and 'id="chart-data"' in board.text
    csv_text = site.get("/staff/dashboard.csv").text
    assert "so_hoi_thoai,2" in csv_text and "ty_le_tra_loi,0.500" in csv_text
    # a citizen's words that start like a formula are written as text, not run by Excel
    assert "'=HYPERLINK(giá vàng hôm nay)" in csv_text and "\n=HYPERLINK" not in csv_text


def test_handoff_desk_pages(site):
    sid = site.post("/api/v1/chat", json={"message": "hỏi về đất đai"}).json()["session_id"]
    handoff = {
        "next_action": "action_handoff",
        "sender_id": sid,
        "tracker": {"slots": {}, "latest_message": {"text": "/handoff"}},  # the button
    }
    site.app.state.actions.run(handoff)  # what Rasa runs when the citizen asks for a person
    csrf = sign_in(site, "editor1")
    assert sid in site.get("/staff/handoff").text
    sent = site.post(
        f"/staff/handoff/{sid}/reply", data={"csrf_token": csrf, "text": "Chào anh, em nghe."}
    )
    assert sent.status_code == 200 and "Chào anh, em nghe." in sent.text
    staff_turns = site.get(f"/api/v1/chat/{sid}/messages").json()
    assert any(m["text"] == "Chào anh, em nghe." for m in staff_turns)
    released = site.post(f"/staff/handoff/{sid}/release", data={"csrf_token": csrf})
    assert released.status_code == 200 and sid not in released.text


@pytest.mark.parametrize(
    ("username", "method", "path", "data"),
    [
        ("editor1", "post", "/staff/faq/1/publish", {}),
        ("editor1", "post", "/staff/faq/1/archive", {}),
        ("editor1", "post", "/staff/faq/1/rollback", {"version": "1"}),
        ("editor1", "post", "/staff/procedures/upload", {}),
        ("editor1", "get", "/staff/facts", None),
        ("editor1", "get", "/staff/users", None),
        ("reviewer1", "post", "/staff/facts", {"online_services": "5"}),
        ("reviewer1", "post", "/staff/users", {"username": "someone", "role": "admin"}),
    ],
)
def test_each_page_action_checks_the_role_on_the_server(site, username, method, path, data):
    csrf = sign_in(site, username)
    if method == "get":
        response = site.get(path)
    else:
        response = site.post(path, data={"csrf_token": csrf, **data})
    assert response.status_code == 403, (path, response.status_code)
    assert "không có quyền" in response.text
