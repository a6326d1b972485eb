"""Editors read and answer only conversations waiting for a person; reviewers and admins may
open any transcript."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from nlu.chat import OfflineDialogue
from tests.api.conftest import staffed_kb
from tests.api.test_admin_faq import login


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(kb=staffed_kb(tmp_path), dialogue=OfflineDialogue())) as app:
        yield app


def test_editors_see_only_conversations_waiting_for_a_person(client: TestClient) -> None:
    sid = client.post("/api/v1/chat", json={"message": "hỏi về đất đai"}).json()["session_id"]
    editor = login(client, "editor1")
    assert client.get(f"/api/v1/staff/conversations/{sid}/turns").status_code == 404
    reply = {"text": "Chào anh"}
    refused = client.post(f"/api/v1/staff/conversations/{sid}/reply", json=reply, headers=editor)
    assert refused.status_code == 404
    assert client.get(f"/staff/handoff/{sid}").status_code == 404
    handoff = {
        "next_action": "action_handoff",
        "sender_id": sid,
        "tracker": {"slots": {}, "latest_message": {"text": "/handoff"}},  # the button
    }
    client.app.state.actions.run(handoff)  # the citizen asked for a person
    assert client.get(f"/api/v1/staff/conversations/{sid}/turns").status_code == 200
    reviewer = login(client, "reviewer1")
    client.post(f"/api/v1/staff/conversations/{sid}/release", headers=reviewer)
    assert client.get(f"/api/v1/staff/conversations/{sid}/turns").status_code == 200
