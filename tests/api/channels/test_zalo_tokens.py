"""The Zalo channel's access token: refreshed ahead of expiry and rotated, refreshed once when
refused, once across replicas; sends retried and logged; placeholder secrets refused."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from api.channels.zalo.models import ZaloToken
from api.channels.zalo.tokens import TokenStore
from knowledge_base.db import make_engine, migrate, session_scope
from knowledge_base.service import KnowledgeBase
from tests.api.channels.fake_zalo import FakeZalo
from tests.api.channels.zalo_stack import (
    APP_ID,
    FIRST_REFRESH,
    new_user,
    say,
    zalo_settings,
)
from tests.conftest import make_settings


def stored_token(kb: KnowledgeBase) -> ZaloToken:
    with session_scope(kb.engine) as session:
        row = session.get(ZaloToken, APP_ID)
        assert row is not None
        session.expunge(row)
        return row


def test_token_is_refreshed_ahead_of_expiry_and_rotated(
    client: TestClient, fake: FakeZalo, kb: KnowledgeBase
) -> None:
    user = new_user()
    say(client, fake, user, "đăng ký kết hôn cần gì")  # a valid token by now
    fake.expires_in = "240"  # inside the 5 minutes ahead of expiry
    try:
        with session_scope(kb.engine) as session:
            session.execute(update(ZaloToken).values(expires_at=datetime.now(UTC)))
        client.app.state.zalo.tokens._cached = None  # type: ignore[attr-defined]
        refreshes = fake.refreshes
        say(client, fake, user, "đăng ký khai sinh cần gì")
        assert fake.refreshes == refreshes + 1
        first = fake.access_token
        say(client, fake, user, "làm căn cước cần gì")  # still valid, but expiring: refreshed
        assert fake.refreshes == refreshes + 2 and fake.access_token != first
        assert fake.sent[-1]["token"] == fake.access_token
    finally:
        fake.expires_in = "90000"
    say(client, fake, user, "lệ phí đăng ký kết hôn")
    row = stored_token(kb)
    assert row.refresh_token == fake.refresh_token and row.access_token == fake.access_token


def test_an_invalid_token_is_refreshed_once_and_the_message_resent(
    client: TestClient, fake: FakeZalo, kb: KnowledgeBase
) -> None:
    user = new_user()
    say(client, fake, user, "đăng ký kết hôn cần gì")
    old_refresh = stored_token(kb).refresh_token
    fake.revoke_access_token()
    refreshes = fake.refreshes
    sent = say(client, fake, user, "đăng ký khai sinh cần gì")
    assert len(sent) == 1 and fake.refreshes == refreshes + 1
    row = stored_token(kb)
    assert row.refresh_token == fake.refresh_token != old_refresh


@pytest.mark.parametrize("faults", [("500", "503"), ("429", "429"), ("rate_error", "500")])
def test_retries_on_server_errors_and_rate_limits(
    client: TestClient, fake: FakeZalo, faults: tuple[str, ...]
) -> None:
    user = new_user()
    say(client, fake, user, "đăng ký kết hôn cần gì")
    calls = fake.calls
    fake.fail_next(*faults)
    sent = say(client, fake, user, "đăng ký khai sinh cần gì")
    assert len(sent) == 1 and fake.calls == calls + len(faults) + 1


def test_a_send_that_keeps_failing_is_logged(
    client: TestClient, fake: FakeZalo, caplog: pytest.LogCaptureFixture
) -> None:
    user = new_user()
    fake.fail_next(*["500"] * 5)
    with caplog.at_level(logging.INFO):
        assert say(client, fake, user, "đăng ký kết hôn cần gì") == []
    failed = [r for r in caplog.records if r.getMessage() == "zalo.job_failed"]
    assert failed and failed[0].__dict__["kind"] == "text"
    # no citizen text and no user id in any log line or its fields
    for record in caplog.records:
        logged = record.getMessage() + json.dumps(record.__dict__, default=str, ensure_ascii=False)
        assert user not in logged and "kết hôn" not in logged


@pytest.mark.postgres
def test_replicas_refresh_once_under_the_row_lock(
    postgres_url: str, tmp_path: Path, fake: FakeZalo
) -> None:
    """Two replicas find the token expiring at once: one refreshes, the other waits for the
    row and uses the new token (the spent refresh token is never sent twice)."""
    settings = zalo_settings(tmp_path, fake, database_url=postgres_url)
    engine = make_engine(postgres_url)
    migrate(engine)
    fake.refresh_token = FIRST_REFRESH  # a new chain for this database
    refreshes = fake.refreshes

    async def both() -> list[str]:
        replicas = [TokenStore(engine, settings), TokenStore(engine, settings)]
        return list(await asyncio.gather(*(r.access_token() for r in replicas)))

    try:
        tokens = asyncio.run(both())  # the first use: both seed the table, one wins
        assert tokens[0] == tokens[1] == fake.access_token
        assert fake.refreshes == refreshes + 1
        with session_scope(engine) as session:
            session.execute(update(ZaloToken).values(expires_at=datetime.now(UTC)))
        tokens = asyncio.run(both())  # the row exists and is expiring: FOR UPDATE
        assert tokens[0] == tokens[1] == fake.access_token
        assert fake.refreshes == refreshes + 2
        with session_scope(engine) as session:
            assert session.scalar(select(ZaloToken.refresh_token)) == fake.refresh_token
    finally:
        engine.dispose()


@pytest.mark.parametrize("setting", ["zalo_oa_secret_key", "zalo_app_secret", "zalo_refresh_token"])
def test_an_enabled_channel_refuses_placeholder_secrets(
    tmp_path: Path, fake: FakeZalo, setting: str
) -> None:
    with pytest.raises(ValueError, match=setting.upper()):
        zalo_settings(tmp_path, fake, **{setting: "changethis"})
    assert not make_settings(tmp_path).zalo_enabled  # off unless configured
