"""Password checks run on the logins' own threads, never on the threads that answer citizens."""

from __future__ import annotations

import threading

import pytest
from fastapi.testclient import TestClient

from api.auth import service
from api.main import create_app
from nlu.chat import OfflineDialogue
from tests.api.conftest import PASSWORD, staffed_kb


def test_logins_check_passwords_on_their_own_pool(tmp_path, monkeypatch: pytest.MonkeyPatch):
    threads: list[str] = []
    real = service.verify_password

    def recording(password_hash: str, password: str) -> bool:
        threads.append(threading.current_thread().name)
        return real(password_hash, password)

    monkeypatch.setattr(service, "verify_password", recording)
    app = create_app(kb=staffed_kb(tmp_path), dialogue=OfflineDialogue())
    with TestClient(app) as client:
        for name, password in (("editor1", PASSWORD), ("editor1", "wrong"), ("ghost", "x")):
            client.post("/api/v1/auth/login", json={"username": name, "password": password})
    assert len(threads) == 3  # the unknown account costs a check too
    assert all(name.startswith("argon2") for name in threads), threads
