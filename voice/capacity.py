"""How much the line takes on: the one cap on concurrent calls, and the one policy for audio
that arrives faster than a call consumes it.

The cap is per process (a voice worker, or the API serving media streams). Sharing it between
processes would need a counter in Redis kept alive by each call (a crashed worker must not hold
slots for ever); each process guards its own CPU and memory, which is what the cap is for.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import weakref
from typing import Any, Literal, TypeVar

from knowledge_base.metrics import CALLS_REJECTED, LIVE_CALLS, VOICE_QUEUE_DEPTH

logger = logging.getLogger(__name__)
T = TypeVar("T")
# the inbound queues of the calls in progress, read when metrics are scraped
_LIVE_QUEUES: weakref.WeakSet[asyncio.Queue[Any]] = weakref.WeakSet()
VOICE_QUEUE_DEPTH.set_function(lambda: sum(q.qsize() for q in list(_LIVE_QUEUES)))


class CallSlot:
    """One call's place under the cap; ``release`` is idempotent."""

    def __init__(self, owner: CallSlots) -> None:
        self._owner: CallSlots | None = owner

    def release(self) -> None:
        owner, self._owner = self._owner, None
        if owner is not None:
            owner._give_back()


class CallSlots:
    """At most ``limit`` calls at once, counted per connection (never per caller-supplied id,
    so one UUID on many sockets takes many slots). Thread-safe: the SIP bridge admits calls
    on pjsua2's thread, and an ASGI test client runs its own event loop."""

    def __init__(self, limit: int) -> None:
        if limit < 0:
            raise ValueError("a call limit cannot be negative")
        self.limit = limit
        self.refused = 0
        self._in_use = 0
        self._lock = threading.Lock()

    @property
    def in_use(self) -> int:
        return self._in_use

    def try_acquire(self, transport: str, call_id: str = "") -> CallSlot | None:
        """A slot, or None (counted and logged) when the line is full; never waits."""
        with self._lock:
            if self._in_use >= self.limit:
                self.refused += 1
                refused = True
            else:
                self._in_use += 1
                refused = False
        if refused:
            CALLS_REJECTED.labels("busy").inc()
            logger.warning(
                "call.rejected",
                extra={
                    "transport": transport,
                    "call_id": call_id,
                    "reason": "busy",
                    "limit": self.limit,
                },
            )
            return None
        LIVE_CALLS.inc()
        return CallSlot(self)

    def _give_back(self) -> None:
        with self._lock:
            self._in_use -= 1
        LIVE_CALLS.dec()


Offered = Literal["audio", "control", "end"]


def offer(queue: asyncio.Queue[T], item: T, kind: Offered, audio_limit: int) -> bool:
    """Put ``item`` without waiting; False when it was dropped (the caller counts).

    The one policy for what a peer sends: audio beyond ``audio_limit`` queued items is dropped,
    not buffered and not pushed back. A phone peer sends in real time, so a backlog means the
    peer is faster than real time (broken or hostile) or the call is stalled; either way old
    audio is worth nothing to barge-in and end-of-speech timing, and backpressure would only
    move the backlog into socket buffers while adding delay. Keys and other control items use
    the room kept between ``audio_limit`` and the queue's ``maxsize`` and are dropped when even
    that is full; the ``end`` of the call then displaces the oldest item, since nothing queued
    matters once the caller has gone.
    """
    _LIVE_QUEUES.add(queue)
    if kind == "audio" and queue.qsize() >= audio_limit:
        return False
    if queue.full():
        if kind != "end":
            return False
        queue.get_nowait()
    queue.put_nowait(item)
    return True
