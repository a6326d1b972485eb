"""Background jobs of the webhook, bounded: a few consumer tasks, each with its own queue.

A user's jobs always go to the same queue, so their turns and the staff's replies reach them
in order; a full queue refuses the job (the webhook answers 503 and Zalo delivers again). A
job that fails is logged with its kind, never dropped silently; jobs still queued at shutdown
get a few seconds to finish and the rest are counted in the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

logger = logging.getLogger(__name__)
DRAIN_S = 5.0


@dataclass(frozen=True)
class Job:
    kind: str  # for the log: text | follow | unfollow | unreadable | staff_reply
    run: Callable[[], Awaitable[None]]


class Workers:
    def __init__(self, count: int, queue_size: int) -> None:
        per_queue = max(1, queue_size // count)
        self._queues: list[asyncio.Queue[Job]] = [
            asyncio.Queue(maxsize=per_queue) for _ in range(count)
        ]
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._consume(queue), name=f"zalo-worker-{i}")
            for i, queue in enumerate(self._queues)
        ]

    def submit(self, shard: str, job: Job) -> bool:
        """False when that queue is full (or the workers are not running)."""
        if not self._tasks:
            return False
        queue = self._queues[zlib.crc32(shard.encode()) % len(self._queues)]
        try:
            queue.put_nowait(job)
        except asyncio.QueueFull:
            logger.error("zalo.queue_full", extra={"kind": job.kind})
            return False
        return True

    async def idle(self) -> None:
        """Until every queued job is done (tests, shutdown)."""
        for queue in self._queues:
            await queue.join()

    async def stop(self) -> None:
        if not self._tasks:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.idle(), DRAIN_S)
        left = sum(queue.qsize() for queue in self._queues)
        if left:
            logger.error("zalo.jobs_dropped_at_shutdown", extra={"jobs": left})
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def _consume(self, queue: asyncio.Queue[Job]) -> None:
        while True:
            job = await queue.get()
            try:
                await job.run()
            except Exception:
                logger.exception("zalo.job_failed", extra={"kind": job.kind})
            finally:
                queue.task_done()
