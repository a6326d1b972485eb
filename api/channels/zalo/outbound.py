"""What the notification worker needs from the Zalo channel to write first: the OA client
(tokens shared with the API replicas through the database) and the resolver from a Zalo
conversation id to the follower's user id, while they still follow the OA."""

from __future__ import annotations

import asyncio

from sqlalchemy import Engine

from api.channels.zalo import followers
from api.channels.zalo.client import ZaloOAClient
from api.channels.zalo.tokens import TokenStore
from knowledge_base.settings import Settings


class FollowerResolver:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def resolve(self, address: str) -> str | None:
        return followers.recipient_of(self.engine, address)


def notification_client(
    settings: Settings, engine: Engine
) -> tuple[ZaloOAClient, FollowerResolver] | None:
    """None when the Zalo channel is off."""
    if not settings.zalo_enabled:
        return None

    async def may_send(user_id: str) -> bool:
        return await asyncio.to_thread(followers.may_send, engine, user_id, settings.secret_key)

    client = ZaloOAClient(settings, TokenStore(engine, settings), may_send)
    return client, FollowerResolver(engine)
