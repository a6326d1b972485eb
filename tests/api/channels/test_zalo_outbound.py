"""The notification worker's view of the Zalo channel: a conversation id resolves to the
follower's user id while they follow, to nothing once they unfollow."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from api.channels.zalo import followers
from api.channels.zalo.outbound import notification_client
from knowledge_base.db import session_scope
from knowledge_base.service import KnowledgeBase
from nlu.models import Conversation
from tests.conftest import make_settings

USER = "2512523625412515"


def test_off_unless_the_channel_is_on(tmp_path: Path):
    assert notification_client(make_settings(tmp_path), engine=None) is None  # type: ignore[arg-type]


def test_followers_resolve_until_they_unfollow(tmp_path: Path):
    settings = make_settings(
        tmp_path,
        zalo_enabled=True,
        zalo_app_id="4291763606161179100",
        zalo_oa_secret_key="oa-secret-" + "x" * 12,
        zalo_app_secret="app-secret-0123",
        zalo_refresh_token="refresh-bootstrap",
    )
    kb = KnowledgeBase(settings)
    kb.prepare_database()
    wired = notification_client(settings, kb.engine)
    assert wired is not None
    _, resolver = wired
    secret = settings.secret_key
    turn = followers.open_turn(kb.engine, USER, "xin chào", secret, timedelta(minutes=30))
    with session_scope(kb.engine) as session:
        key = followers.user_key(USER, secret)
        session.add(Conversation(id=turn.conversation_id, channel="zalo", client_key=key))
    assert resolver.resolve(turn.conversation_id) == USER
    assert resolver.resolve("zalo-unknown") is None
    followers.unfollow(kb.engine, USER, secret)
    assert resolver.resolve(turn.conversation_id) is None
