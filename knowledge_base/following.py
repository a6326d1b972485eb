"""Keep a process's index in step with the others' changes, in the background, so that a FAQ
published on one replica is answered by every replica within seconds, asked or not."""

from __future__ import annotations

import asyncio
import logging

from knowledge_base.service import KnowledgeBase

logger = logging.getLogger(__name__)


async def follow_changes(kb: KnowledgeBase, stop: asyncio.Event) -> None:
    """Every ``index_follow_s`` until ``stop`` is set; a failed check (the database away) is
    logged and tried again at the next tick."""
    while True:
        try:
            await asyncio.wait_for(stop.wait(), kb.settings.index_follow_s)
            return
        except TimeoutError:
            pass
        try:
            await asyncio.to_thread(kb.follow_changes)
        except Exception as exc:  # keep following: the next tick may succeed
            logger.warning("index.follow_failed", extra={"error": type(exc).__name__})
