"""JSON log lines carry the request id from the edge to the dialogue, masked like all logs."""

from __future__ import annotations

import io
import json
import logging

from fastapi.testclient import TestClient

from api.logs import ContextFilter, JsonFormatter
from api.main import create_app
from nlu.chat import OfflineDialogue
from tests.api.conftest import staffed_kb


def test_json_lines_carry_the_request_id_and_stay_masked(tmp_path):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        app = create_app(kb=staffed_kb(tmp_path), dialogue=OfflineDialogue())
        with TestClient(app) as client:
            given = client.post(
                "/api/v1/chat",
                json={"message": "khai sinh cần gì"},
                headers={"X-Request-ID": "req-0042"},
            )
            hostile = client.post(
                "/api/v1/chat",
                json={"message": "khai sinh cần gì"},
                headers={"X-Request-ID": 'x" injected=1 0912345678'},
            )
        logging.getLogger("test").warning("probe", extra={"phone": "0912 345 678"})
    finally:
        root.removeHandler(handler)
    assert given.headers["x-request-id"] == "req-0042"
    generated = hostile.headers["x-request-id"]
    assert generated != "req-0042" and "injected" not in generated
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    degraded = [line for line in lines if line["event"] == "chat.degraded"]
    assert {line["request_id"] for line in degraded} == {"req-0042", generated}
    probe = next(line for line in lines if line["event"] == "probe")
    assert "0912 345 678" not in json.dumps(probe, ensure_ascii=False)
