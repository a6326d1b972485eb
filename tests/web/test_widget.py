"""The chat widget in a real browser (Debian's Chromium, driven by Playwright) on a phone-sized
viewport, against the API and a real Rasa server."""

from __future__ import annotations

import pytest

from knowledge_base.db import session_scope
from knowledge_base.models import CurationStatus, FaqEntry
from tests.web.conftest import ARTIFACTS, bot_texts, send, wait_for_bot

pytestmark = pytest.mark.slow


def test_citizen_chats_picks_a_quick_reply_and_rates(rasa_stack, phone):
    page = phone
    page.goto(rasa_stack.api_url + "/")
    page.get_by_role("button", name="Hỏi đáp thủ tục").click()
    assert "Xin chào" in bot_texts(page)[0]
    panel = page.locator(".hl-panel").bounding_box()
    assert panel is not None and panel["width"] <= 360

    send(page, "cấp hộ chiếu phổ thông cần gì")
    choices = page.locator(".hl-buttons button")
    assert choices.count() >= 2
    before = page.locator(".hl-bot").count()
    choices.first.click()
    wait_for_bot(page, before)
    answer = bot_texts(page)[-1]
    assert "Hồ sơ gồm" in answer
    link = page.locator(".hl-bot a").last
    assert link.get_attribute("href").startswith("https://dichvucong.gov.vn/")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "widget-phone.png"))

    send(page, "tạm biệt")
    page.locator(".hl-buttons button", has_text="5").last.click()
    page.get_by_text("5/5").first.wait_for()

    # the session id is kept for this tab only, never in localStorage (a shared kiosk)
    assert page.evaluate("sessionStorage.getItem('hotline-chat-session')")
    assert page.evaluate("localStorage.getItem('hotline-chat-session')") is None
    # the session survives a reload of the tab and the transcript comes back
    page.reload()
    page.get_by_role("button", name="Hỏi đáp thủ tục").click()
    page.locator(".hl-me").nth(1).wait_for()
    assert any("hộ chiếu" in t for t in page.locator(".hl-me").all_inner_texts())


def test_keyboard_only_use(rasa_stack, phone):
    page = phone
    page.goto(rasa_stack.api_url + "/")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # opens the widget from the keyboard
    assert page.evaluate("document.activeElement.name") == "message"
    page.keyboard.type("đăng ký kết hôn cần gì")
    page.keyboard.press("Enter")
    page.get_by_text("Đăng ký kết hôn").first.wait_for()
    page.keyboard.press("Escape")
    assert page.locator(".hl-panel").is_hidden()


def test_server_text_is_shown_literally_never_run(rasa_stack, phone):
    kb = rasa_stack.app.state.kb
    with session_scope(kb.engine) as session:
        session.add(
            FaqEntry(
                questions=["giờ làm việc của trung tâm phục vụ hành chính công"],
                answer="<script>window.__xss = 1</script><b>Từ 7 giờ đến 17 giờ</b> các ngày làm việc.",
                procedure_codes=[],
                tags=["xss-test"],
                status=CurationStatus.PUBLISHED,
            )
        )
    kb.ensure_index()
    page = phone
    page.goto(rasa_stack.api_url + "/")
    page.get_by_role("button", name="Hỏi đáp thủ tục").click()
    send(page, "giờ làm việc của trung tâm phục vụ hành chính công")
    assert "<script>window.__xss = 1</script><b>" in bot_texts(page)[-1]
    assert page.evaluate("window.__xss") is None
    assert page.locator(".hl-bot b").count() == 0
