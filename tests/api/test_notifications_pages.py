"""The staff page of dossier notifications (reviewers and admins): counts and lists by
status, dead letters with "Gửi lại" (a CSRF-checked POST) and a staff unsubscribe; the admin
API; and the widget's inbox of a web session, shown once, also after the chat has ended."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.auth.service import create_user
from api.main import create_app
from knowledge_base.db import session_scope
from nlu.chat import OfflineDialogue
from nlu.notifications import service
from nlu.notifications.models import OutboxStatus
from nlu.notifications.outbox import RetryPolicy
from nlu.notifications.senders import PermanentFailure
from tests.api.conftest import PASSWORD, STAFF_ACCOUNTS
from tests.api.site.test_pages import sign_in
from tests.nlu.notification_stack import PHONE, WEB, ZALO, Stack, build_stack

ROW_RE = r'<tr id="notification-(\d+)" data-status="{}">'


@pytest.fixture
def stack(database_url: str, tmp_path: Path) -> Iterator[Stack]:
    for stack in build_stack(tmp_path, database_url):
        with session_scope(stack.engine) as session:
            for name, role in STAFF_ACCOUNTS:
                create_user(session, name, role, PASSWORD)
        yield stack


@pytest.fixture
def site(stack: Stack) -> Iterator[TestClient]:
    app = create_app(kb=stack.actions.kb, dialogue=OfflineDialogue())
    with TestClient(app) as client:
        yield client


def dead_letter(stack: Stack) -> None:
    """Web and Zalo sent, SMS refused by the gateway."""
    for sender in (WEB, ZALO, PHONE):
        stack.look_up(sender)
        stack.subscribe(sender)
    stack.sync("Đã có kết quả")
    stack.sms.failures = [PermanentFailure("sms gateway refused the message: 400")]
    asyncio.run(stack.worker(RetryPolicy(max_attempts=1)).run_once())


def test_dead_letters_are_shown_and_sent_again(stack: Stack, site: TestClient) -> None:
    dead_letter(stack)
    csrf = sign_in(site, "reviewer1")
    page = site.get("/staff/notifications")
    assert page.status_code == 200 and "Thông báo tình trạng hồ sơ" in page.text
    assert re.search(r'id="count-dead"[^>]*>Không gửi được: 1<', page.text)
    assert re.search(r'id="count-sent"[^>]*>Đã gửi: 2<', page.text)
    (dead,) = re.findall(ROW_RE.format("dead"), page.text)
    assert "******5678" in page.text and "0912345678" not in page.text
    assert "refused the message: 400" in page.text and "Gửi lại" in page.text
    only_dead = site.get("/staff/notifications?status=dead").text
    assert re.findall(ROW_RE.format(r"\w+"), only_dead) == [dead]
    assert site.post(f"/staff/notifications/{dead}/retry").status_code == 403  # no CSRF token
    retried = site.post(f"/staff/notifications/{dead}/retry", data={"csrf_token": csrf})
    assert retried.status_code == 200 and "hàng đợi gửi lại" in retried.text
    assert re.findall(ROW_RE.format("pending"), retried.text) == [dead]
    sent = site.post(f"/staff/notifications/{dead}/retry", data={"csrf_token": csrf})
    assert sent.status_code == 404  # pending now: nothing to retry
    asyncio.run(stack.worker().run_once())
    assert len(stack.sms.delivered) == 1
    assert site.get("/api/v1/admin/notifications").json()["counts"]["sent"] == 3
    audit = site.get("/api/v1/admin/audit").json()
    assert any(a["action"] == "notification.retry" for a in audit)


def test_the_admin_api_and_who_may_see_it(stack: Stack, site: TestClient) -> None:
    dead_letter(stack)
    sign_in(site, "editor1")
    assert site.get("/api/v1/admin/notifications").status_code == 403
    assert site.get("/staff/notifications").status_code == 403
    assert "/staff/notifications" not in site.get("/staff/faq").text
    site.cookies.clear()
    sign_in(site, "admin1")
    assert "/staff/notifications" in site.get("/staff/faq").text
    body = site.get("/api/v1/admin/notifications", params={"status": "dead"}).json()
    assert body["counts"]["dead"] == 1
    (item,) = body["items"]
    assert (item["channel"], item["address_hint"]) == ("sms", "******5678")
    assert item["dossier_hint"] == "***.**.**.H55-******-0042"
    csrf = site.get("/api/v1/auth/me").json().get("csrf_token", "")
    retried = site.post(
        f"/api/v1/admin/notifications/{item['id']}/retry", headers={"x-csrf-token": csrf}
    )
    assert retried.status_code == 200 and retried.json()["status"] == "pending"


def test_staff_end_a_subscription(stack: Stack, site: TestClient) -> None:
    dead_letter(stack)
    csrf = sign_in(site, "admin1")
    page = site.get("/staff/notifications?status=sent").text
    first = re.findall(ROW_RE.format("sent"), page)[0]
    ended = site.post(f"/staff/notifications/{first}/unsubscribe", data={"csrf_token": csrf})
    assert ended.status_code == 200 and "Đã hủy đăng ký" in ended.text
    again = site.post(f"/staff/notifications/{first}/unsubscribe", data={"csrf_token": csrf})
    assert again.status_code == 404
    assert stack.sync("Đã trả kết quả").enqueued == 2


def test_the_widget_inbox_shows_news_once_and_can_stop_it(stack: Stack, site: TestClient) -> None:
    dead_letter(stack)
    first = site.get(f"/api/v1/chat/{WEB}/notifications")
    assert first.status_code == 200
    (news,) = first.json()
    assert "Đã có kết quả" in news["text"] and news["created_at"].endswith("Z")
    assert site.get(f"/api/v1/chat/{WEB}/notifications").json() == []
    assert site.get("/api/v1/chat/unknown-session/notifications").json() == []
    stopped = site.post(f"/api/v1/chat/{WEB}/notifications/cancel")
    assert stopped.json() == {"cancelled": 1}
    assert stack.sync("Đã trả kết quả").enqueued == 2  # Zalo and SMS only
    with session_scope(stack.engine) as session:
        assert service.counts(session)[OutboxStatus.PENDING.value] == 2
