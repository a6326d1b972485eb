"""The OA's access token, shared by every replica through the database.

``POST {oauth}/v4/oa/access_token`` (form ``app_id``, ``grant_type=refresh_token``,
``refresh_token``; header ``secret_key``: the app's secret) answers a new ``access_token``,
a new ``refresh_token`` (the old one is spent: it must be stored before anything else uses
it) and ``expires_in`` in seconds, as a string.

A token is refreshed ahead of its expiry, by one replica at a time: the row is read
``FOR UPDATE`` (PostgreSQL; SQLite has one writer anyway), a replica that waited finds it
fresh and uses it. The configured refresh token only starts the chain: it seeds an empty
table, or replaces a stored token the OAuth server refused (an operator pasted a new one).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Engine, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.channels.zalo.models import ZaloToken
from knowledge_base.db import session_scope
from knowledge_base.settings import Settings

logger = logging.getLogger(__name__)
REFRESH_AHEAD = timedelta(minutes=5)
REFRESH_ATTEMPTS = 3
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class TokenError(RuntimeError):
    """No usable access token: the refresh failed."""


class RefreshRejectedError(TokenError):
    """The OAuth server refused the refresh token (spent, expired or revoked)."""


@dataclass(frozen=True)
class Token:
    value: str
    expires_at: datetime

    def fresh(self, now: datetime) -> bool:
        return bool(self.value) and self.expires_at - REFRESH_AHEAD > now


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)  # SQLite


def _seed_hash(refresh_token: str) -> str:
    return hashlib.sha256(refresh_token.encode()).hexdigest()


class TokenStore:
    def __init__(self, engine: Engine, settings: Settings) -> None:
        self._engine, self._settings = engine, settings
        self._url = settings.zalo_oauth_url.rstrip("/") + "/v4/oa/access_token"
        self._cached: Token | None = None
        self._lock = asyncio.Lock()  # one refresh at a time in this process

    async def access_token(self) -> str:
        cached = self._cached
        if cached is not None and cached.fresh(datetime.now(UTC)):
            return cached.value
        async with self._lock:
            cached = self._cached
            if cached is None or not cached.fresh(datetime.now(UTC)):
                cached = self._cached = await run_in_threadpool(self._current_or_refreshed)
            return cached.value

    async def invalidate(self, value: str) -> None:
        """The API refused ``value``: the next caller refreshes, unless a replica already
        replaced it."""
        self._cached = None
        await run_in_threadpool(self._expire, value)

    # --- blocking (worker threads) ----------------------------------------------------------
    def _expire(self, value: str) -> None:
        with session_scope(self._engine) as session:
            session.execute(
                update(ZaloToken)
                .where(
                    ZaloToken.app_id == self._settings.zalo_app_id,
                    ZaloToken.access_token == value,
                )
                .values(expires_at=EPOCH)
            )

    def _current_or_refreshed(self) -> Token:
        with session_scope(self._engine) as session:
            row = self._locked_row(session)
            current = Token(row.access_token, _aware(row.expires_at))
            if current.fresh(datetime.now(UTC)):
                return current
            configured = self._settings.zalo_refresh_token
            try:
                answer = self._refresh(row.refresh_token)
            except RefreshRejectedError:
                if not configured or _seed_hash(configured) == row.seed_hash:
                    raise
                logger.warning("zalo.token_reseeded", extra={"reason": "stored token refused"})
                row.seed_hash = _seed_hash(configured)
                answer = self._refresh(configured)
            row.access_token = str(answer["access_token"])
            row.refresh_token = str(answer["refresh_token"])
            expires_in = int(float(answer.get("expires_in") or 3600))
            row.expires_at = datetime.now(UTC) + timedelta(seconds=expires_in)
            logger.info("zalo.token_refreshed", extra={"expires_in_s": expires_in})
            return Token(row.access_token, row.expires_at)

    def _locked_row(self, session: Session) -> ZaloToken:
        app_id = self._settings.zalo_app_id
        row = session.get(ZaloToken, app_id, with_for_update=True)
        if row is not None:
            return row
        configured = self._settings.zalo_refresh_token
        try:
            with session.begin_nested():
                row = ZaloToken(
                    app_id=app_id,
                    access_token="",
                    refresh_token=configured,
                    expires_at=EPOCH,
                    seed_hash=_seed_hash(configured),
                )
                session.add(row)
            return row
        except IntegrityError:  # another replica seeded it first
            found = session.get(ZaloToken, app_id, with_for_update=True, populate_existing=True)
            assert found is not None
            return found

    def _refresh(self, refresh_token: str) -> dict[str, Any]:
        form = {
            "app_id": self._settings.zalo_app_id,
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
        }
        headers = {"secret_key": self._settings.zalo_app_secret}
        delay = self._settings.zalo_retry_base_s
        with httpx.Client(timeout=self._settings.zalo_timeout_s) as client:
            for attempt in range(1, REFRESH_ATTEMPTS + 1):
                try:
                    response = client.post(self._url, data=form, headers=headers)
                except httpx.TransportError as exc:
                    problem = type(exc).__name__
                else:
                    if response.status_code < 500 and response.status_code != 429:
                        return _token_answer(response)
                    problem = f"HTTP {response.status_code}"
                logger.warning(
                    "zalo.token_refresh_retry", extra={"attempt": attempt, "problem": problem}
                )
                if attempt < REFRESH_ATTEMPTS:
                    time.sleep(delay * 2 ** (attempt - 1))
        raise TokenError(f"token refresh failed: {problem}")


def _token_answer(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if (
        response.status_code == 200
        and isinstance(body, dict)
        and body.get("access_token")
        and body.get("refresh_token")
    ):
        return body
    error = body.get("error") if isinstance(body, dict) else None
    logger.error(
        "zalo.token_refresh_refused", extra={"status": response.status_code, "error": error}
    )
    raise RefreshRejectedError(f"refresh refused: HTTP {response.status_code}, error {error}")
