"""Rasa's Redis tracker store, without the per-turn work that only matters for trackers holding
several conversation sessions (``endpoints.yml`` written by ``nlu.runtime``).

Rasa's ``RedisTrackerStore`` reads the stored tracker back and merges it with the new one on every
save, and splits it into sessions on every read, because one key may hold several sessions. Ours
expires (``record_exp``, renewed by every turn) before Rasa would start a new session (the
domain's ``session_expiration_time``, counted from the last message), so a key never holds more
than one: the save writes and the read reads, nothing more. Where that does not hold (sessions
longer than the expiry), Rasa's own behaviour is used.
"""

from __future__ import annotations

from typing import Any

from rasa.core.tracker_store import RedisTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker


class OneSessionRedisTrackerStore(RedisTrackerStore):  # type: ignore[misc]  # Rasa's venv only
    def __init__(
        self,
        domain: Domain,
        host: str = "localhost",
        socket_timeout: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(domain, host=host, **kwargs)
        if socket_timeout:
            # Redis unreachable: the turn fails fast (the chat answers degraded), never hangs
            self.red.connection_pool.connection_kwargs.update(
                socket_timeout=socket_timeout, socket_connect_timeout=socket_timeout
            )

    def one_session_per_key(self) -> bool:
        session = self.domain.session_config
        if not session.are_sessions_enabled():
            return True
        expiry_s: float = self.record_exp or 0
        expiry_min: float = session.session_expiration_time
        return 0 < expiry_s < expiry_min * 60

    async def save(
        self,
        tracker: DialogueStateTracker,
        timeout: float | None = None,  # noqa: ASYNC109 - Rasa's signature: the key's expiry
    ) -> None:
        if self.event_broker is not None or not self.one_session_per_key():
            await super().save(tracker, timeout)
            return
        key = self.key_prefix + tracker.sender_id
        self.red.set(key, self.serialise_tracker(tracker), ex=timeout or self.record_exp)

    async def _retrieve(
        self, sender_id: str, fetch_all_sessions: bool
    ) -> DialogueStateTracker | None:
        if not self.one_session_per_key():
            return await super()._retrieve(sender_id, fetch_all_sessions)
        stored = self.red.get(self.key_prefix + sender_id)
        return None if stored is None else self.deserialise_tracker(sender_id, stored)
