"""A dossier notification for a widget session, in a real browser: shown when the chat opens
again in that tab (even after the conversation ended), once, with a button that stops them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from api.main import create_app
from knowledge_base.db import session_scope
from knowledge_base.service import KnowledgeBase
from nlu.chat import OfflineDialogue
from nlu.dossiers import load_sample_if_empty
from nlu.models import Dossier
from nlu.notifications import service
from nlu.notifications.models import Channel, Subscription, WebInboxMessage
from nlu.runtime import free_port
from tests.conftest import make_settings
from tests.nlu.rasa_server import serve_api
from tests.web.conftest import send

pytestmark = pytest.mark.slow
KEY = "hotline-chat-session"
NEWS = "Hồ sơ có mã kết thúc bằng 0042 đã chuyển sang trạng thái Đã có kết quả."


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, KnowledgeBase]]:
    kb = KnowledgeBase(make_settings(Path(tmp_path_factory.mktemp("widget-news"))))
    with serve_api(create_app(kb=kb, dialogue=OfflineDialogue()), free_port()) as url:
        yield url, kb


def _news_for(kb: KnowledgeBase, session_id: str) -> None:
    """Subscribed, then delivered by the worker's web sender (the browser owns the loop)."""
    with session_scope(kb.engine) as session:
        load_sample_if_empty(session)
        dossier_id = session.scalar(select(Dossier.id).limit(1))
        assert dossier_id is not None
        service.subscribe(session, dossier_id, Channel.WEB, session_id, session_id)
        row = {"session_id": session_id, "idempotency_key": "key-1", "text": NEWS}
        service.insert_ignoring_duplicates(session, WebInboxMessage, row)


def test_news_shows_once_when_the_chat_opens_again(site, phone) -> None:
    url, kb = site
    page = phone
    page.goto(url + "/")
    page.get_by_role("button", name="Hỏi đáp thủ tục").click()
    send(page, "đăng ký khai sinh cần gì")
    session_id = page.evaluate(f"sessionStorage.getItem('{KEY}')")
    _news_for(kb, session_id)
    page.reload()
    page.get_by_role("button", name="Hỏi đáp thủ tục").click()
    page.get_by_text(NEWS).wait_for()
    page.get_by_role("button", name="Ngừng nhận thông báo").click()
    page.get_by_text("Đã hủy nhận thông báo hồ sơ").wait_for()
    with session_scope(kb.engine) as session:
        assert not session.scalar(select(Subscription.active))
    page.reload()
    page.get_by_role("button", name="Hỏi đáp thủ tục").click()
    page.locator(".hl-me").first.wait_for()  # the transcript is back; the news is not
    assert page.get_by_text(NEWS).count() == 0
