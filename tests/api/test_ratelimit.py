"""Per-client rate limits: 429 with Retry-After and a Vietnamese message on ask and chat, new
conversations counted apart, login lockout per account and per address that an admin can lift,
the client behind trusted proxies only, limits shared through the real Redis, and fail-open
when Redis cannot be reached."""

from __future__ import annotations

import ipaddress
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from starlette.requests import Request

from api.main import create_app
from api.ratelimit import client_hash, client_key
from knowledge_base.db import session_scope
from nlu.chat import OfflineDialogue
from nlu.models import Conversation
from tests.api.conftest import PASSWORD, staffed_kb
from tests.api.site.test_pages import sign_in

REDIS_URL = "redis://127.0.0.1:6379/0"


def _client(tmp_path: Path, **limits: object) -> TestClient:
    kb = staffed_kb(tmp_path, **limits)
    return TestClient(create_app(kb=kb, dialogue=OfflineDialogue()))


@pytest.fixture
def strict(tmp_path: Path) -> Iterator[TestClient]:
    with _client(
        tmp_path,
        rate_limit_ask="3/minute",
        rate_limit_chat="4/minute",
        rate_limit_new_conversations="2/hour",
        rate_limit_login_user="3/15 minutes",
        rate_limit_login_ip="5/15 minutes",
    ) as client:
        yield client


def test_ask_beyond_the_limit_gets_429_with_retry_after_in_vietnamese(strict: TestClient) -> None:
    for _ in range(3):
        assert strict.post("/api/v1/ask", json={"question": "làm căn cước"}).status_code == 200
    refused = strict.post("/api/v1/ask", json={"question": "làm căn cước"})
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    error = refused.json()["error"]
    assert error["code"] == "rate_limited" and "thử lại sau" in error["message"]
    assert error["details"]["retry_after_s"] == int(refused.headers["Retry-After"])


def test_new_conversations_are_limited_apart_from_messages(strict: TestClient) -> None:
    first = strict.post("/api/v1/chat", json={"message": "xin chào"}).json()["session_id"]
    strict.post("/api/v1/chat", json={"message": "xin chào"})
    third = strict.post("/api/v1/chat", json={"message": "xin chào"})
    assert (
        third.status_code == 429 and third.json()["error"]["details"]["rule"] == "new_conversations"
    )
    # a made-up session id is a new conversation too
    forged = strict.post("/api/v1/chat", json={"session_id": "abcdefgh12345", "message": "alo"})
    assert forged.status_code == 429
    # the conversation already open goes on, up to the message limit
    going_on = strict.post("/api/v1/chat", json={"session_id": first, "message": "lệ phí?"})
    assert going_on.status_code == 429  # the 4th message in this minute from this client
    assert going_on.json()["error"]["details"]["rule"] == "chat"


def test_wrong_passwords_lock_the_account_until_an_admin_lifts_it(strict: TestClient) -> None:
    wrong = {"username": "editor1", "password": "sai-mat-khau"}
    for _ in range(3):
        assert strict.post("/api/v1/auth/login", json=wrong).status_code == 401
    right = {"username": "editor1", "password": PASSWORD}
    locked = strict.post("/api/v1/auth/login", json=right)
    assert locked.status_code == 429 and "Tài khoản tạm khóa" in locked.json()["error"]["message"]
    page = strict.post(
        "/staff/login", data={"username": "editor1", "password": PASSWORD, "next": "/staff"}
    )
    assert page.status_code == 429 and "Tài khoản tạm khóa" in page.text
    assert "Retry-After" in page.headers
    csrf = sign_in(strict, "admin1")  # another account from the same address still works
    lifted = strict.post("/staff/users/editor1/unlock", data={"csrf_token": csrf})
    assert lifted.status_code == 200 and "Đã mở khóa đăng nhập cho editor1" in lifted.text
    strict.post("/staff/logout", data={"csrf_token": csrf})
    assert strict.post("/api/v1/auth/login", json=right).status_code == 200


def test_wrong_passwords_from_one_address_are_limited_across_accounts(strict: TestClient) -> None:
    for i in range(5):
        attempt = {"username": f"guess{i}", "password": "x"}
        assert strict.post("/api/v1/auth/login", json=attempt).status_code == 401
    refused = strict.post("/api/v1/auth/login", json={"username": "admin1", "password": PASSWORD})
    assert refused.status_code == 429 and "từ máy này" in refused.json()["error"]["message"]


def _request(peer: str, forwarded: list[str]) -> Request:
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
    return Request({"type": "http", "headers": headers, "client": (peer, 5000)})


def test_the_client_is_the_peer_unless_behind_trusted_proxies() -> None:
    spoofed = _request("203.0.113.7", ["1.2.3.4"])
    assert client_key(spoofed, 0) == "203.0.113.7"  # no proxy trusted: the header is ignored
    proxied = _request("10.0.0.2", ["1.2.3.4, 198.51.100.9"])  # client-sent, then the proxy's
    assert client_key(proxied, 1) == "198.51.100.9"
    assert client_key(_request("10.0.0.2", ["1.2.3.4", "198.51.100.9"]), 1) == "198.51.100.9"
    assert client_key(_request("10.0.0.2", ["not-an-address"]), 1) == "10.0.0.2"
    assert client_key(_request("10.0.0.2", []), 1) == "10.0.0.2"  # not through the proxy


def test_limits_are_shared_through_redis_between_replicas(tmp_path: Path) -> None:
    address = str(ipaddress.IPv6Address(f"2001:db8::{uuid.uuid4().hex[:4]}:{uuid.uuid4().hex[:4]}"))
    limits = {"redis_url": REDIS_URL, "trusted_proxy_hops": 1, "rate_limit_ask": "3/minute"}
    headers = {"X-Forwarded-For": address}
    with _client(tmp_path / "a", **limits) as a, _client(tmp_path / "b", **limits) as b:
        for replica in (a, b, a):
            ok = replica.post("/api/v1/ask", json={"question": "hộ chiếu"}, headers=headers)
            assert ok.status_code == 200
        assert (
            b.post("/api/v1/ask", json={"question": "hộ chiếu"}, headers=headers).status_code == 429
        )
        other = {"X-Forwarded-For": str(ipaddress.IPv6Address(uuid.uuid4().int))}
        assert (
            b.post("/api/v1/ask", json={"question": "hộ chiếu"}, headers=other).status_code == 200
        )


def test_an_unreachable_redis_fails_open_quickly(tmp_path: Path) -> None:
    with _client(tmp_path, redis_url="redis://127.0.0.1:1/0", rate_limit_ask="1/minute") as app:
        started = time.monotonic()
        for _ in range(3):
            assert app.post("/api/v1/ask", json={"question": "hộ chiếu"}).status_code == 200
        assert time.monotonic() - started < 10


def test_a_conversation_keeps_a_keyed_hash_of_its_client_not_the_address(tmp_path: Path) -> None:
    with _client(tmp_path, trusted_proxy_hops=1) as app:
        headers = {"X-Forwarded-For": "198.51.100.23"}
        sid = app.post("/api/v1/chat", json={"message": "xin chào"}, headers=headers).json()
        kb = app.app.state.kb
        with session_scope(kb.engine) as session:
            stored = session.get(Conversation, sid["session_id"]).client_key
        assert stored == client_hash("198.51.100.23", kb.settings.secret_key)
        assert "198.51.100.23" not in stored and len(stored) == 32
