"""The site's trained ranker, kept in the database so that every replica serves the same one.

A training on any replica stores its model here; each replica copies a newer one into its own
ranker folder, which it loads from as before (the folder is the replica's cache)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from knowledge_base.models import SiteRanker
from knowledge_base.ranking.model import Ranker, write_model_files

KEEP_VERSIONS = 3  # a few past models for an operator to go back to; each is about 1 MB


def store_site_ranker(session: Session, ranker: Ranker) -> int:
    """Store ``ranker`` as the site's newest; returns its version."""
    model_text, meta_text = ranker.texts()
    row = SiteRanker(model_text=model_text, meta_text=meta_text)
    session.add(row)
    session.flush()
    kept = select(SiteRanker.id).order_by(SiteRanker.id.desc()).limit(KEEP_VERSIONS)
    session.execute(delete(SiteRanker).where(SiteRanker.id.not_in(kept.scalar_subquery())))
    return row.id


def latest_site_ranker(session: Session) -> int | None:
    return session.scalar(select(func.max(SiteRanker.id)))


def copy_site_ranker(session: Session, version: int, folder: Path) -> bool:
    """Write version ``version`` into ``folder``; False when it is gone (pruned meanwhile)."""
    row = session.get(SiteRanker, version)
    if row is None:
        return False
    write_model_files(folder, row.model_text, row.meta_text)
    return True
