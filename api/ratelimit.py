"""Per-client rate limits, shared by every process and replica through Redis (the ``limits``
library, moving windows); in memory when no Redis is configured, which only holds within one
process (development).

When Redis cannot be reached the limits fail open: the hotline keeps answering and the outage
is logged — a citizen must not be refused because a counter is unavailable."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import math
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TypeVar

from fastapi import Request
from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError

from knowledge_base.settings import Settings

logger = logging.getLogger(__name__)
T = TypeVar("T")
REDIS_TIMEOUT_S = 0.5  # a blackholed Redis must not hold a request for long
RULES = ("ask", "chat", "new_conversations", "login_user", "login_ip")


class RateLimitedError(Exception):
    """Too many requests from one client (or for one account); retry after ``retry_after_s``."""

    def __init__(self, rule: str, retry_after_s: int) -> None:
        super().__init__(f"rate limit {rule!r} reached; retry after {retry_after_s} s")
        self.rule = rule
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class Rule:
    name: str
    items: tuple[RateLimitItem, ...]


def rules_from(settings: Settings) -> dict[str, Rule]:
    return {
        name: Rule(name, tuple(parse_many(getattr(settings, f"rate_limit_{name}"))))
        for name in RULES
    }


def _storage(redis_url: str) -> Storage:
    if not redis_url:
        return MemoryStorage()
    uri = "async+" + redis_url if not redis_url.startswith("async+") else redis_url
    return RedisStorage(
        uri,
        wrap_exceptions=True,
        implementation="redispy",
        key_prefix="hotline-limits",
        socket_timeout=REDIS_TIMEOUT_S,
        socket_connect_timeout=REDIS_TIMEOUT_S,
    )


class RateLimiter:
    def __init__(self, settings: Settings) -> None:
        self.rules = rules_from(settings)
        self.shared = bool(settings.redis_url)
        self._window = MovingWindowRateLimiter(_storage(settings.redis_url))
        if not self.shared:
            logger.warning("ratelimit.in_memory", extra={"reason": "HOTLINE_REDIS_URL is empty"})

    async def hit(self, rule: str, *key: str) -> None:
        """Count one request; RateLimitedError when any window of the rule is full."""
        await self._count(rule, key, check_first=True)

    async def check(self, rule: str, *key: str) -> None:
        """RateLimitedError when the rule is already exhausted, without counting."""
        for item in self.rules[rule].items:
            if not await self._safe(self._window.test(item, rule, *key), True):
                raise RateLimitedError(rule, await self._retry_after(item, rule, key))

    async def record(self, rule: str, *key: str) -> None:
        """Count one event (a wrong password) without refusing this one."""
        await self._count(rule, key, check_first=False)

    async def clear(self, rule: str, *key: str) -> None:
        for item in self.rules[rule].items:
            await self._safe(self._window.clear(item, rule, *key), None)

    async def _count(self, rule: str, key: tuple[str, ...], check_first: bool) -> None:
        items = self.rules[rule].items
        if check_first:
            await self.check(rule, *key)  # so a refused request uses none of the other windows
        for item in items:
            allowed = await self._safe(self._window.hit(item, rule, *key), True)
            if check_first and not allowed:  # lost a race with another request
                raise RateLimitedError(rule, await self._retry_after(item, rule, key))

    async def _retry_after(self, item: RateLimitItem, rule: str, key: tuple[str, ...]) -> int:
        stats = await self._safe(self._window.get_window_stats(item, rule, *key), None)
        if stats is None:
            return item.get_expiry()
        return max(1, math.ceil(stats.reset_time - time.time()))

    async def _safe(self, pending: Awaitable[T], fallback: T) -> T:
        try:
            return await pending
        except StorageError:
            logger.warning("ratelimit.storage_unavailable", extra={"fail": "open"})
            return fallback


def client_key(request: Request, trusted_proxy_hops: int) -> str:
    """The client's address: the peer, or — behind ``trusted_proxy_hops`` reverse proxies —
    the address the nearest untrusted hop gave in X-Forwarded-For. Never a value the client
    could choose by sending the header itself."""
    peer = request.client.host if request.client else "unknown"
    if trusted_proxy_hops <= 0:
        return peer
    forwarded = [
        hop.strip()
        for header in request.headers.getlist("x-forwarded-for")
        for hop in header.split(",")
        if hop.strip()
    ]
    if len(forwarded) < trusted_proxy_hops:
        return peer  # not through the expected proxies: the peer is all that is known
    candidate = forwarded[-trusted_proxy_hops]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return peer


def client_hash(client: str, secret: str) -> str:
    """What is stored of a client address: a keyed hash, enough to count by, not to read."""
    return hmac.new(secret.encode(), client.encode(), hashlib.sha256).hexdigest()[:32]
