"""Hostile input: oversized bodies are refused before they are read (declared or chunked), a
gzip bomb and deeply nested JSON in a catalogue upload get clear refusals, and browsing the
catalogue loads one page from the database, not all of it."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.main import create_app
from api.site import catalogue_pages
from knowledge_base.db import session_scope
from knowledge_base.service import KnowledgeBase
from nlu.chat import OfflineDialogue
from nlu.models import ChatTurn
from tests.api.conftest import PASSWORD, staffed_kb
from tests.api.site.test_pages import sign_in


@pytest.fixture
def kb(tmp_path: Path) -> KnowledgeBase:
    return staffed_kb(tmp_path)


@pytest.fixture
def client(kb: KnowledgeBase) -> Iterator[TestClient]:
    with TestClient(create_app(kb=kb, dialogue=OfflineDialogue())) as test_client:
        yield test_client


def test_a_declared_oversized_body_is_refused_unread(client: TestClient) -> None:
    big = json.dumps({"question": "a" * (1024 * 1024)})
    refused = client.post("/api/v1/ask", content=big, headers={"content-type": "application/json"})
    assert refused.status_code == 413
    assert refused.json()["error"]["code"] == "payload_too_large"


def test_a_chunked_oversized_body_is_cut_off(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"message": "'
        for _ in range(40):
            yield b"x" * 10_000
        yield b'"}'

    refused = client.post(
        "/api/v1/chat", content=chunks(), headers={"content-type": "application/json"}
    )
    assert refused.status_code == 413


def test_a_gzip_bomb_and_nested_json_get_clear_refusals(
    client: TestClient, kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catalogue_pages, "MAX_TEXT_BYTES", 1024 * 1024)
    csrf = sign_in(client, "reviewer1")
    bomb = gzip.compress(b"\0" * (4 * 1024 * 1024))
    assert len(bomb) < 10_000
    refused = client.post(
        "/staff/procedures/upload",
        data={"csrf_token": csrf},
        files={"file": ("bom.jsonl.gz", bomb, "application/gzip")},
    )
    assert refused.status_code == 422 and "giải nén ra hơn 1 MB" in refused.text
    truncated = client.post(
        "/staff/procedures/upload",
        data={"csrf_token": csrf},
        files={"file": ("cut.jsonl.gz", gzip.compress(b'{"a": 1}\n' * 100)[:-12], "x/y")},
    )
    assert truncated.status_code == 422 and "giải nén được" in truncated.text
    before = kb.procedure_count()
    nested = ("[" * 100_000 + "]" * 100_000 + "\n").encode()
    report = client.post(
        "/staff/procedures/upload",
        data={"csrf_token": csrf},
        files={"file": ("sau.jsonl", nested, "application/json")},
    )
    assert report.status_code == 207 and "nested too deeply" in report.text
    assert kb.procedure_count() == before


def test_browsing_pages_through_the_catalogue_in_order(client: TestClient) -> None:
    first = client.get("/api/v1/procedures", params={"page_size": 5}).json()
    second = client.get("/api/v1/procedures", params={"page_size": 5, "page": 2}).json()
    codes = [i["code"] for i in first["items"]] + [i["code"] for i in second["items"]]
    assert codes == sorted(codes) and len(set(codes)) == 10
    assert first["total"] == second["total"] >= 30
    beyond = client.get("/api/v1/procedures", params={"page_size": 100, "page": 50}).json()
    assert beyond["items"] == [] and beyond["total"] == first["total"]
    commune = client.get("/api/v1/procedures", params={"level": "Cấp xã", "page_size": 3}).json()
    assert len(commune["items"]) == 3 and commune["total"] > 3
    assert all(any("xã" in lv for lv in i["levels"]) for i in commune["items"])


def test_security_headers_and_no_store_on_staff_pages(client: TestClient) -> None:
    login = client.get("/staff/login")
    assert login.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in login.headers["Content-Security-Policy"]
    assert login.headers["X-Content-Type-Options"] == "nosniff"
    demo = client.get("/")
    assert "script-src 'self'" in demo.headers["Content-Security-Policy"]
    answer = client.post("/api/v1/ask", json={"question": "làm hộ chiếu"})
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert "Content-Security-Policy" not in answer.headers


def test_a_ticket_past_a_million_can_still_be_answered(client: TestClient) -> None:
    csrf = sign_in(client, "editor1")
    missing = client.post(
        "/staff/feedback/PA-2026-1000000", data={"csrf_token": csrf, "status": "dang_xu_ly"}
    )
    assert missing.status_code == 404  # a valid number that does not exist, not a 422


def test_the_login_form_refuses_posts_from_another_site(client: TestClient) -> None:
    form = {"username": "editor1", "password": PASSWORD, "next": "/staff"}
    forged = client.post("/staff/login", data=form, headers={"Origin": "https://evil.example"})
    assert forged.status_code == 403
    own = client.post("/staff/login", data=form, headers={"Origin": "http://testserver"})
    assert own.status_code == 200 and own.url.path == "/staff"


@pytest.mark.parametrize("megabytes", [1, 10])
def test_big_bodies_are_refused_on_every_public_route(client: TestClient, megabytes: int) -> None:
    body = b'{"message": "' + b"a" * (megabytes * 1024 * 1024) + b'"}'
    for path in ("/api/v1/ask", "/api/v1/chat", "/api/v1/auth/login"):
        refused = client.post(path, content=body, headers={"content-type": "application/json"})
        assert refused.status_code == 413, path


@pytest.mark.parametrize(
    "raw",
    [
        b'{"question": "\xff\xfe l\xe1\xbb\x87 ph\xc3"}',  # invalid UTF-8
        b'{"question": "l\\u1ec7 ph\\u00ed\\u0000 khai sinh"}',  # a NUL character
        b'{"question": "' + ("😀" * 5000).encode() + b'"}',  # 5,000 emoji
        b'{"question": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",  # a JSON nesting bomb
        b'{"question": "\\ud800 surrogate"}',  # a lone surrogate
        b"\x00\x01\x02 not json at all",
    ],
)
def test_malformed_text_gets_a_clear_4xx_and_stores_nothing(
    client: TestClient, kb: KnowledgeBase, raw: bytes
) -> None:
    for path in ("/api/v1/ask", "/api/v1/chat"):
        body = raw.replace(b'"question"', b'"message"') if path.endswith("chat") else raw
        response = client.post(path, content=body, headers={"content-type": "application/json"})
        assert 400 <= response.status_code < 500, (path, response.status_code)
        assert response.json()["error"]["code"] in {"invalid_request", "bad_request"}
    with session_scope(kb.engine) as session:
        assert session.scalar(select(func.count()).select_from(ChatTurn)) == 0


def test_markup_typed_by_a_citizen_is_shown_to_staff_as_text(client: TestClient) -> None:
    script = "<script>alert('xss')</script><img src=x onerror=alert(1)> thủ tục gì đó"
    assert client.post("/api/v1/chat", json={"message": script}).status_code == 200
    sign_in(client, "editor1")
    for path in ("/staff/inbox", "/staff"):
        page = client.get(path)
        assert page.status_code == 200
        assert "<script>alert(" not in page.text and "<img src=x" not in page.text
