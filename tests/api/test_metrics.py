"""``/metrics``: counters move with requests, series follow route templates, a token guards it."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from api.main import create_app
from nlu.chat import OfflineDialogue
from tests.api.conftest import staffed_kb


def _value(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if not line.startswith(name + "{") and line.split(" ")[0] != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split(" ")[0]))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_counters_move_and_routes_are_templates(tmp_path):
    kb = staffed_kb(tmp_path, rate_limit_ask="2/minute")
    with TestClient(create_app(kb=kb, dialogue=OfflineDialogue())) as client:
        before = client.get("/metrics").text
        for _ in range(3):
            client.post("/api/v1/ask", json={"question": "lệ phí đăng ký khai sinh"})
        client.get("/api/v1/chat/abcdefgh12345678/messages")
        after = client.get("/metrics")
    assert after.headers["content-type"].startswith("text/plain")
    text = after.text
    ask = {"method": "POST", "route": "/api/v1/ask"}
    assert (
        _value(text, "hotline_http_requests_total", status="200", **ask)
        - _value(before, "hotline_http_requests_total", status="200", **ask)
        == 2
    )
    assert _value(text, "hotline_rate_limited_total", rule="ask") >= 1
    assert "/api/v1/chat/{session_id}/messages" in text and "abcdefgh12345678" not in text
    assert _value(text, "hotline_index_documents") > 0
    assert _value(text, "hotline_answers_total", channel="api", outcome="answered") >= 2
    assert _value(text, "hotline_http_request_duration_seconds_count", **ask) >= 3


def test_a_metrics_token_is_enforced(tmp_path):
    kb = staffed_kb(tmp_path, metrics_token="scrape-secret-123")
    with TestClient(create_app(kb=kb, dialogue=OfflineDialogue())) as client:
        assert client.get("/metrics").status_code == 401
        wrong = {"Authorization": "Bearer nope"}
        assert client.get("/metrics", headers=wrong).status_code == 401
        right = {"Authorization": "Bearer scrape-secret-123"}
        assert client.get("/metrics", headers=right).status_code == 200
