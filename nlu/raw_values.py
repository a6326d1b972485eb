"""The raw values behind a conversation's masks, kept for a short while for the two steps that
need them: the dossier look-up (the full dossier code) and a feedback ticket's contact (the
phone number or e-mail address to call back).

Everything else only ever sees masked text: the chat API masks a citizen's message
(``nlu.privacy``) before it stores the turn and before it sends it to Rasa, so Rasa's tracker
holds ``***.**.**.H55-******-0001``, never the code. The API keeps ``masked → raw`` for the
conversation here; when Rasa calls the custom actions (in this same API, through
``/api/v1/rasa/webhook``), they swap the masks back (:func:`reveal`) just for the look-up,
and answer and set slots in masked form again. The values expire with the conversation's
idle time (``HOTLINE_CHAT_SESSION_IDLE_MINUTES``); ID numbers are never kept.

With ``HOTLINE_REDIS_URL`` the values live in Redis (every replica, and a voice worker's
conversations, reach them); without it in this process only, bounded in size.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Protocol

from knowledge_base.settings import Settings
from nlu.privacy import Finding, Kind

logger = logging.getLogger(__name__)
KEPT_KINDS = frozenset({Kind.DOSSIER, Kind.PHONE, Kind.EMAIL})
MAX_VALUES = 16  # per conversation: more than any dossier look-up or ticket needs


class RawValues(Protocol):
    def keep(self, conversation_id: str, findings: Sequence[Finding]) -> None: ...

    def recall(self, conversation_id: str) -> dict[str, str]:
        """``masked → raw`` for the conversation; empty once expired."""
        ...


def _kept(findings: Sequence[Finding]) -> dict[str, str]:
    return {f.masked: f.value for f in findings if f.kind in KEPT_KINDS}


def reveal(values: Mapping[str, str], text: str) -> str:
    """The text with this conversation's masks replaced by what they hide; anything else,
    raw values included, is left as it is."""
    for masked in sorted(values, key=len, reverse=True):
        text = text.replace(masked, values[masked])
    return text


class MemoryRawValues:
    """One process only (development and tests)."""

    def __init__(self, ttl_s: float, max_conversations: int = 10_000) -> None:
        self.ttl_s, self.max_conversations = ttl_s, max_conversations
        self._values: OrderedDict[str, tuple[float, dict[str, str]]] = OrderedDict()
        self._lock = threading.Lock()

    def keep(self, conversation_id: str, findings: Sequence[Finding]) -> None:
        kept = _kept(findings)
        if not kept:
            return
        with self._lock:
            _, values = self._values.pop(conversation_id, (0.0, {}))
            values.update(kept)
            while len(values) > MAX_VALUES:
                values.pop(next(iter(values)))
            self._values[conversation_id] = (time.monotonic() + self.ttl_s, values)
            while len(self._values) > self.max_conversations:
                self._values.popitem(last=False)

    def recall(self, conversation_id: str) -> dict[str, str]:
        with self._lock:
            expires, values = self._values.get(conversation_id, (0.0, {}))
            if expires < time.monotonic():
                self._values.pop(conversation_id, None)
                return {}
            return dict(values)


class RedisRawValues:
    """One hash per conversation, expiring with it. Without Redis the look-up fails closed
    (the masked code reads as a wrong code) and nothing raw is kept anywhere else."""

    def __init__(self, url: str, ttl_s: int) -> None:
        import redis

        self._client = redis.Redis.from_url(
            url, socket_timeout=0.5, socket_connect_timeout=0.5, decode_responses=True
        )
        self._errors = (redis.RedisError,)
        self.ttl_s = ttl_s

    @staticmethod
    def _key(conversation_id: str) -> str:
        return f"hotline:raw-values:{conversation_id}"

    def keep(self, conversation_id: str, findings: Sequence[Finding]) -> None:
        kept = _kept(findings)
        if not kept:
            return
        key = self._key(conversation_id)
        try:
            pipe = self._client.pipeline()
            for masked, value in kept.items():
                pipe.hset(key, masked, value)
            pipe.expire(key, self.ttl_s)
            pipe.execute()
        except self._errors:
            logger.warning("privacy.raw_values_unavailable", extra={"step": "keep"})

    def recall(self, conversation_id: str) -> dict[str, str]:
        try:
            values: dict[str, str] = self._client.hgetall(self._key(conversation_id))  # type: ignore[assignment]
        except self._errors:
            logger.warning("privacy.raw_values_unavailable", extra={"step": "recall"})
            return {}
        return values


@lru_cache
def _shared(redis_url: str, ttl_s: int) -> RawValues:
    return RedisRawValues(redis_url, ttl_s) if redis_url else MemoryRawValues(ttl_s)


def shared_raw_values(settings: Settings) -> RawValues:
    """One store per process and configuration: the chat service that keeps the values and
    the action server that reveals them must share it."""
    return _shared(settings.redis_url, settings.chat_session_idle_minutes * 60)
