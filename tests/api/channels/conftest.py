"""The Zalo channel's test stack, one per test module: the fake OA API, a Rasa double whose
actions run for real, and the app logged in as a desk editor."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.auth.models import Role
from api.auth.service import create_user
from api.main import create_app
from knowledge_base.db import session_scope
from knowledge_base.service import KnowledgeBase
from tests.api.channels.dialogue import RasaDouble
from tests.api.channels.fake_zalo import FakeZalo
from tests.api.channels.zalo_stack import APP_ID, APP_SECRET, FIRST_REFRESH, PASSWORD, zalo_settings


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeZalo]:
    server = FakeZalo(APP_ID, APP_SECRET, FIRST_REFRESH)
    yield server
    server.close()


@pytest.fixture(scope="module")
def rasa() -> RasaDouble:
    return RasaDouble()


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory, fake: FakeZalo) -> KnowledgeBase:
    return KnowledgeBase(zalo_settings(tmp_path_factory.mktemp("zalo"), fake))


@pytest.fixture(scope="module")
def client(kb: KnowledgeBase, rasa: RasaDouble) -> Iterator[TestClient]:
    app = create_app(kb=kb, dialogue=rasa)
    rasa.actions = app.state.actions
    with TestClient(app) as test_client:
        with session_scope(kb.engine) as session:
            create_user(session, "zalo-desk", Role.EDITOR, PASSWORD)
        login = test_client.post(
            "/api/v1/auth/login", json={"username": "zalo-desk", "password": PASSWORD}
        )
        test_client.headers["X-CSRF-Token"] = login.json()["csrf_token"]
        yield test_client
