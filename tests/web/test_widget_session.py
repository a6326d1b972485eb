"""The widget's session on a shared kiosk, in a real browser against the API in knowledge-base-
only mode (no Rasa needed): kept in sessionStorage, an older localStorage key removed, and a
conversation the server has closed for idleness neither shown again nor continued."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from api.main import create_app
from knowledge_base.db import session_scope
from knowledge_base.models import utcnow
from knowledge_base.service import KnowledgeBase
from nlu.chat import OfflineDialogue
from nlu.models import ChatTurn
from nlu.runtime import free_port
from tests.conftest import make_settings
from tests.nlu.rasa_server import serve_api
from tests.web.conftest import send

pytestmark = pytest.mark.slow
KEY = "hotline-chat-session"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, KnowledgeBase]]:
    kb = KnowledgeBase(make_settings(Path(tmp_path_factory.mktemp("widget-session"))))
    with serve_api(create_app(kb=kb, dialogue=OfflineDialogue()), free_port()) as url:
        yield url, kb


def test_the_session_lives_in_the_tab_and_ends_when_idle(site, phone):
    url, kb = site
    page = phone
    page.goto(url + "/")
    page.evaluate(f"localStorage.setItem('{KEY}', 'left-by-an-older-widget')")
    page.reload()
    assert page.evaluate(f"localStorage.getItem('{KEY}')") is None
    page.get_by_role("button", name="Hỏi đáp thủ tục").click()
    send(page, "đăng ký khai sinh cần gì, số tôi 0938 271 645")
    first = page.evaluate(f"sessionStorage.getItem('{KEY}')")
    assert first and page.evaluate(f"localStorage.getItem('{KEY}')") is None

    page.reload()  # the same tab, the same citizen: the transcript comes back, masked
    page.get_by_role("button", name="Hỏi đáp thủ tục").click()
    page.locator(".hl-me").first.wait_for()
    assert page.locator(".hl-me").first.inner_text().endswith("******1645")

    with session_scope(kb.engine) as session:  # the citizen walked away half an hour ago
        session.execute(
            update(ChatTurn)
            .where(ChatTurn.conversation_id == first)
            .values(created_at=utcnow() - timedelta(minutes=31))
        )
    page.reload()
    page.get_by_role("button", name="Hỏi đáp thủ tục").click()
    page.get_by_text("Xin chào!").wait_for()
    assert page.locator(".hl-me").count() == 0
    assert page.evaluate(f"sessionStorage.getItem('{KEY}')") is None
    send(page, "đăng ký kết hôn")
    second = page.evaluate(f"sessionStorage.getItem('{KEY}')")
    assert second and second != first
