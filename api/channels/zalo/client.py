"""The OA send-message API (v3, customer-service messages).

``POST {api}/v3.0/oa/message/cs``, header ``access_token``, body
``{"recipient": {"user_id"}, "message": {"text"}}``; buttons go in
``message.attachment = {"type": "template", "payload": {"buttons": [{"title", "type":
"oa.query.hide", "payload"}]}}`` beside the text. The API reports most failures as HTTP 200
with ``{"error": <non-zero>, "message"}``: -216 and -124 are an invalid or expired access
token (refreshed once, then the message is sent again); -32 is the rate limit. Error codes are
from public integrations of the API and Zalo's guides; the reference store had no copy of the
official error table.

5xx, 429, -32 and network errors are retried with exponential backoff (``Retry-After`` when
given); other refusals are final. Nothing is sent to a user who may not receive messages (one
who unfollowed the OA): ``may_send`` is asked before every message.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from api.channels.zalo.messages import OutMessage
from api.channels.zalo.tokens import TokenStore
from knowledge_base.settings import Settings

logger = logging.getLogger(__name__)
TOKEN_ERRORS = frozenset({-216, -124})
RATE_LIMIT_ERRORS = frozenset({-32})
SEND_ATTEMPTS = 5
MAX_DELAY_S = 30.0
MaySend = Callable[[str], Awaitable[bool]]


class ZaloApiError(RuntimeError):
    def __init__(self, message: str, error: int | None = None) -> None:
        super().__init__(message)
        self.error = error


class _Retry(Exception):
    def __init__(self, problem: str, after_s: float | None = None) -> None:
        super().__init__(problem)
        self.after_s = after_s


def message_body(user_id: str, message: OutMessage) -> dict[str, Any]:
    content: dict[str, Any] = {"text": message.text}
    if message.buttons:
        buttons = [
            {"title": b["title"], "type": "oa.query.hide", "payload": b["payload"]}
            for b in message.buttons
        ]
        content["attachment"] = {"type": "template", "payload": {"buttons": buttons}}
    return {"recipient": {"user_id": user_id}, "message": content}


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    return min(float(value), MAX_DELAY_S) if value.isdigit() else None


class ZaloOAClient:
    def __init__(self, settings: Settings, tokens: TokenStore, may_send: MaySend) -> None:
        self._url = settings.zalo_api_url.rstrip("/") + "/v3.0/oa/message/cs"
        self._http = httpx.AsyncClient(timeout=settings.zalo_timeout_s)
        self._tokens, self._may_send = tokens, may_send
        self._base_delay = settings.zalo_retry_base_s

    async def aclose(self) -> None:
        await self._http.aclose()

    async def send_text(
        self, user_id: str, text: str, buttons: list[dict[str, str]] | None = None
    ) -> bool:
        return await self.send(user_id, OutMessage(text, buttons or []))

    async def send(self, user_id: str, message: OutMessage) -> bool:
        """True once sent; False when the user may not receive messages. ZaloApiError when
        the API refused it or kept failing."""
        if not await self._may_send(user_id):
            logger.info("zalo.send_skipped", extra={"reason": "inactive"})
            return False
        body = message_body(user_id, message)
        refreshed = False
        for attempt in range(1, SEND_ATTEMPTS + 1):
            token = await self._tokens.access_token()
            try:
                await self._post(body, token)
                return True
            except _Retry as retry:
                if attempt == SEND_ATTEMPTS:
                    raise ZaloApiError(f"gave up after {attempt} attempts: {retry}") from None
                delay = retry.after_s or self._backoff(attempt)
                logger.warning(
                    "zalo.send_retry",
                    extra={"attempt": attempt, "problem": str(retry), "delay_s": delay},
                )
                await asyncio.sleep(delay)
            except ZaloApiError as exc:
                if exc.error not in TOKEN_ERRORS or refreshed:
                    raise
                refreshed = True
                logger.warning("zalo.token_refused", extra={"error": exc.error})
                await self._tokens.invalidate(token)
        raise AssertionError("unreachable")  # pragma: no cover

    def _backoff(self, attempt: int) -> float:
        base: float = self._base_delay * 2.0 ** (attempt - 1)
        return min(MAX_DELAY_S, base + random.uniform(0, base / 2))

    async def _post(self, body: dict[str, Any], token: str) -> None:
        try:
            response = await self._http.post(self._url, json=body, headers={"access_token": token})
        except httpx.TransportError as exc:
            raise _Retry(type(exc).__name__) from exc
        if response.status_code == 429 or response.status_code >= 500:
            raise _Retry(f"HTTP {response.status_code}", _retry_after(response))
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if response.status_code != 200 or not isinstance(answer, dict):
            raise ZaloApiError(f"HTTP {response.status_code}")
        error = answer.get("error", 0)
        error = error if isinstance(error, int) else -1
        if error in RATE_LIMIT_ERRORS:
            raise _Retry(f"error {error}")
        if error != 0:
            raise ZaloApiError(f"error {error}", error)
