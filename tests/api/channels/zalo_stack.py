"""What the Zalo channel tests share: the channel's settings over a local fake of the OA API,
and signed webhook events in the shape Zalo sends them."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from api.channels.zalo import followers, signature
from api.channels.zalo.models import ZaloFollower
from api.channels.zalo.service import ZaloChannel
from knowledge_base.db import session_scope
from knowledge_base.service import KnowledgeBase
from tests.api.channels.fake_zalo import FakeZalo
from tests.conftest import make_settings

APP_ID, OA_SECRET, APP_SECRET = "4291763606161179100", "oa-secret-" + "x" * 12, "app-secret-0123"
FIRST_REFRESH = "refresh-bootstrap"
PASSWORD = "zalo-desk-password"
# nlu/data/sample_dossiers.csv (made up)
DOSSIER, DOSSIER_LAST4 = "000.00.12.H55-240315-0042", "1234"


def zalo_settings(tmp_path: Path, fake: FakeZalo, **overrides: object) -> Any:
    values: dict[str, object] = {
        "zalo_enabled": True,
        "zalo_app_id": APP_ID,
        "zalo_oa_secret_key": OA_SECRET,
        "zalo_app_secret": APP_SECRET,
        "zalo_refresh_token": FIRST_REFRESH,
        "zalo_api_url": fake.url,
        "zalo_oauth_url": fake.url,
        "zalo_retry_base_s": 0.01,
    }
    return make_settings(tmp_path, **{**values, **overrides})


def new_user() -> str:
    return str(secrets.randbelow(10**18) + 10**18)


def event(
    name: str, user: str, text: str | None = None, ts_ms: int | None = None, msg_id: str = ""
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "app_id": APP_ID,
        "oa_id": "579745863508352884",
        "user_id_by_app": "55221" + user[-6:],
        "event_name": name,
        "timestamp": str(ts_ms if ts_ms is not None else int(time.time() * 1000)),
    }
    if name in ("follow", "unfollow"):
        body["follower"] = {"id": user}
        body["source"] = "oa_profile"
    else:
        body["sender"] = {"id": user}
        body["recipient"] = {"id": "579745863508352884"}
        body["message"] = {"msg_id": msg_id or secrets.token_hex(16)}
        if text is not None:
            body["message"]["text"] = text
    return body


def deliver(
    client: TestClient,
    body: dict[str, Any] | bytes,
    secret: str = OA_SECRET,
    signed: bool = True,
    timestamp: str = "",
) -> Any:
    """POST a webhook event as Zalo does, signed over the raw body and its timestamp."""
    raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    headers = {"content-type": "application/json"}
    if signed:
        if not timestamp:
            found = signature._TIMESTAMP_RE.search(raw)
            assert found
            timestamp = found.group(1).decode()
        headers[signature.HEADER] = signature.sign(APP_ID, raw, timestamp, secret)
    return client.post("/api/v1/channels/zalo/webhook", content=raw, headers=headers)


def settle(client: TestClient) -> None:
    """Until the background jobs queued so far are done (at most 5 s)."""
    channel: ZaloChannel = client.app.state.zalo  # type: ignore[attr-defined]

    async def idle() -> None:
        await asyncio.wait_for(channel.workers.idle(), 5)

    assert client.portal is not None
    client.portal.call(idle)


def say(client: TestClient, fake: FakeZalo, user: str, text: str) -> list[dict[str, Any]]:
    """Send one message; the messages the OA answered with."""
    before = len(fake.messages_to(user))
    assert deliver(client, event("user_send_text", user, text)).json() == {"status": "accepted"}
    settle(client)
    return fake.messages_to(user)[before:]


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    return list(message.get("attachment", {}).get("payload", {}).get("buttons", []))


def conversation_of(kb: KnowledgeBase, user: str) -> str:
    with session_scope(kb.engine) as session:
        key = followers.user_key(user, kb.settings.secret_key)
        found = session.scalar(
            select(ZaloFollower.conversation_id).where(ZaloFollower.user_key == key)
        )
    assert found
    return found
