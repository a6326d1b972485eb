"""Which ranker a process serves, and keeping it in step with the other processes.

The site's newest trained ranker lives in the database (``site_store``); each replica copies it
into its ranker folder and loads from there. Without a site ranker the bundled one serves."""

from __future__ import annotations

import logging

from sqlalchemy import Engine

from knowledge_base.db import session_scope
from knowledge_base.metrics import RANKER_VERSION
from knowledge_base.ranking.model import Ranker, load_ranker, site_model_stamp
from knowledge_base.ranking.site_store import (
    copy_site_ranker,
    latest_site_ranker,
    store_site_ranker,
)
from knowledge_base.settings import Settings

logger = logging.getLogger(__name__)


class RankerSource:
    def __init__(self, settings: Settings) -> None:
        self.folder = settings.ranker_dir
        self.ranker: Ranker | None = None
        self.loaded = False
        self.generation = 0  # moves with every change of model: cached answers expire
        self._stamp: int | None = None  # the folder's, when the served model was read
        self._version: int | None = None  # the database's site ranker copied into the folder

    def first(self, engine: Engine) -> Ranker | None:
        """The ranker to start serving with: the site's newest, else the bundled one."""
        if not self.loaded:
            self.pull(engine)
            self._stamp = site_model_stamp(self.folder)
            self.ranker = load_ranker(self.folder)
            self.loaded = True
        return self.ranker

    def pull(self, engine: Engine) -> None:
        """Copy a ranker trained on another replica into this one's folder (``moved`` then
        loads it)."""
        with session_scope(engine) as session:
            latest = latest_site_ranker(session)
            if latest is None or latest == self._version:
                return
            if copy_site_ranker(session, latest, self.folder):
                self._version = latest
                RANKER_VERSION.set(latest)
                logger.info("ranker.pulled", extra={"version": latest})

    def publish(self, engine: Engine, ranker: Ranker) -> None:
        """Store a newly trained ranker for every replica, and in this one's folder."""
        with session_scope(engine) as session:
            version = store_site_ranker(session, ranker)
        ranker.save(self.folder)
        self._version = version
        RANKER_VERSION.set(version)

    def moved(self) -> Ranker | None:
        """A ranker saved into the folder since the served one was read (by a worker on this
        box, or by ``pull``), else None."""
        stamp = site_model_stamp(self.folder)
        if stamp == self._stamp:
            return None
        try:
            ranker = load_ranker(self.folder)
        except (OSError, ValueError):  # caught mid-save: the next check loads it
            logger.warning("ranker.reload_failed")
            return None
        self._stamp = stamp
        return ranker

    def use(self, ranker: Ranker) -> None:
        self.ranker = ranker
        self.loaded = True
        self._stamp = site_model_stamp(self.folder)
        self.generation += 1
