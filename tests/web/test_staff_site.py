"""The staff site in a real browser: an editor drafts but cannot publish, a reviewer publishes
and the citizen's widget answers with the new entry at once, a rollback takes effect, and the
dashboard draws its charts."""

from __future__ import annotations

import pytest

from api.auth.models import Role, StaffUser
from api.auth.service import create_user
from knowledge_base.db import session_scope
from tests.web.conftest import ARTIFACTS, bot_texts, send

pytestmark = pytest.mark.slow
PASSWORD = "browser-test-password"
QUESTION = "trung tâm hành chính công có chỗ gửi xe máy miễn phí không"
FIRST = "Có. Bãi gửi xe máy miễn phí nằm ở cổng sau của trung tâm."
SECOND = "Có. Bãi gửi xe máy miễn phí ở cổng sau, mở từ 6 giờ 30."


@pytest.fixture(scope="module")
def accounts(rasa_stack) -> None:
    with session_scope(rasa_stack.app.state.kb.engine) as session:
        for name, role in [("pw-editor", Role.EDITOR), ("pw-reviewer", Role.REVIEWER)]:
            if session.query(StaffUser).filter_by(username=name).first() is None:
                create_user(session, name, role, PASSWORD)


@pytest.fixture
def desk(browser, rasa_stack, accounts):
    """A desktop browser window factory: one logged-in context per staff member."""
    contexts = []

    def open_as(username: str):
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN")
        contexts.append(context)
        page = context.new_page()
        page.goto(rasa_stack.api_url + "/staff/faq")
        assert "/staff/login" in page.url  # not logged in yet
        page.get_by_label("Tên đăng nhập").fill(username)
        page.get_by_label("Mật khẩu").fill(PASSWORD)
        page.get_by_role("button", name="Đăng nhập").click()
        page.wait_for_url("**/staff/faq")
        return page

    yield open_as
    for context in contexts:
        context.close()


def widget_answer(page, base_url: str, question: str) -> str:
    page.goto(base_url + "/")
    page.evaluate("sessionStorage.clear()")  # a fresh conversation each time
    page.reload()
    page.get_by_role("button", name="Hỏi đáp thủ tục").click()
    send(page, question)
    return bot_texts(page)[-1]


def test_editor_drafts_reviewer_publishes_widget_answers_rollback(rasa_stack, desk, phone):
    base = rasa_stack.api_url
    editor = desk("pw-editor")
    editor.get_by_role("link", name="Thêm câu hỏi").click()
    editor.get_by_label("Câu hỏi (mỗi dòng một cách hỏi)").fill(QUESTION)
    editor.get_by_label("Câu trả lời").fill(FIRST)
    editor.get_by_label("Nhãn (cách nhau bởi dấu phẩy)").fill("cơ sở vật chất")
    editor.get_by_role("button", name="Tạo bản nháp").click()
    editor.wait_for_selector("text=Đã tạo bản nháp.")
    entry_url = editor.url.split("?")[0]
    assert editor.get_by_role("button", name="Duyệt và xuất bản").count() == 0
    # Even a hand-made request is refused on the server.
    status = editor.evaluate(
        """async (url) => {
            const csrf = JSON.parse(document.body.getAttribute('hx-headers'))['X-CSRF-Token'];
            const r = await fetch(url + '/publish', {method: 'POST',
                headers: {'X-CSRF-Token': csrf, 'Content-Type': 'application/x-www-form-urlencoded'}});
            return r.status; }""",
        entry_url,
    )
    assert status == 403
    editor.get_by_role("button", name="Gửi duyệt").click()
    assert editor.locator("#faq-status").inner_text() == "Chờ duyệt"

    reviewer = desk("pw-reviewer")
    reviewer.goto(entry_url)
    reviewer.get_by_role("button", name="Duyệt và xuất bản").click()
    assert "Đã cập nhật chỉ mục" in reviewer.locator("#index-message").inner_text()
    assert FIRST in widget_answer(phone, base, QUESTION)

    # four eyes: the editor writes the second version, the reviewer publishes it
    editor.goto(entry_url)
    editor.get_by_label("Câu trả lời").fill(SECOND)
    editor.get_by_role("button", name="Lưu phiên bản mới").click()
    editor.get_by_role("button", name="Gửi duyệt").click()
    reviewer.goto(entry_url)
    reviewer.get_by_role("button", name="Duyệt và xuất bản").click()
    assert SECOND in widget_answer(phone, base, QUESTION)

    reviewer.get_by_role("button", name="Khôi phục bản 1").click()
    assert "Đã cập nhật chỉ mục" in reviewer.locator("#index-message").inner_text()
    assert FIRST in widget_answer(phone, base, QUESTION)

    reviewer.goto(f"{entry_url}/diff?from=1&to=2")
    assert reviewer.locator("pre.diff .add").count() >= 1


def test_dashboard_draws_charts(rasa_stack, desk):
    reviewer = desk("pw-reviewer")
    reviewer.get_by_role("link", name="Tổng quan").click()
    reviewer.wait_for_selector("body[data-charts=ready]")
    assert reviewer.locator("canvas").count() == 3
    ARTIFACTS.mkdir(exist_ok=True)
    reviewer.screenshot(path=str(ARTIFACTS / "staff-dashboard.png"), full_page=True)
    with reviewer.expect_download() as download:
        reviewer.get_by_role("link", name="Tải CSV").click()
    assert download.value.suggested_filename.endswith(".csv")
