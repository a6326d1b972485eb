"""The lexicon this site serves: the bundled one with the entries staff published; checks and
listings for the staff page ("Cách nói của người dân")."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from knowledge_base.curation import InvalidEntryError, PhraseContent, is_live
from knowledge_base.models import CurationStatus, LexiconEntryRow, Procedure
from knowledge_base.text.normalize import normalize_text
from knowledge_base.understanding.lexicon import (
    Lexicon,
    LexiconEntry,
    LexiconError,
    bundled_lexicon,
    fold,
    reaches_catalogue,
    staff_entry,
    with_staff_entries,
)

logger = logging.getLogger(__name__)


def published_changes(session: Session) -> list[tuple[LexiconEntry, bool]]:
    rows = session.scalars(
        select(LexiconEntryRow).where(is_live(LexiconEntryRow)).order_by(LexiconEntryRow.id)
    )
    changes = []
    for row in rows:
        try:
            changes.append((staff_entry(row.kind, row.term, row.phrases), row.active))
        except LexiconError:  # checked when saved; a row edited by hand in the database
            logger.warning("lexicon.bad_staff_entry", extra={"entry_id": row.id})
    return changes


def site_lexicon(session: Session) -> Lexicon:
    return with_staff_entries(bundled_lexicon(), published_changes(session))


@dataclass(frozen=True)
class LexiconLine:
    """One row of the staff lexicon page: a bundled entry, a staff entry, or both (a staff
    change to a bundled entry)."""

    kind: str
    term: str
    phrases: tuple[str, ...]
    bundled: bool
    entry: LexiconEntryRow | None  # the staff entry, if any


def checked(session: Session, content: PhraseContent, entry_id: int | None = None) -> PhraseContent:
    """Content as it will be stored (normalised), or InvalidEntryError saying what to fix."""
    phrases = content.phrases if content.active else [content.term]  # retired: none needed
    try:
        entry = staff_entry(content.kind, content.term, phrases)
    except LexiconError as exc:
        raise InvalidEntryError(str(exc)) from exc
    names = session.scalars(select(Procedure.name))
    if content.active and not reaches_catalogue(entry, names):
        raise InvalidEntryError(
            f"Cách viết chính thức “{entry.term}” không có trong tên thủ tục nào của danh mục: "
            "hãy ghi đúng như tên thủ tục viết."
        )
    if not content.active and not any(
        (e.kind, e.term) == (entry.kind, entry.term) for e in bundled_lexicon().entries
    ):
        raise InvalidEntryError("Chỉ bỏ được một mục có sẵn: không có mục nào với cách viết này.")
    twin = session.scalar(
        select(LexiconEntryRow.id).where(
            LexiconEntryRow.kind == entry.kind,
            LexiconEntryRow.term == entry.term,
            LexiconEntryRow.status != CurationStatus.ARCHIVED,
            LexiconEntryRow.id != (entry_id or 0),
        )
    )
    if twin is not None:
        raise InvalidEntryError(f"Đã có mục #{twin} cho “{entry.term}”: hãy sửa mục đó.")
    return PhraseContent(entry.kind, entry.term, list(entry.phrases), content.active)


def lexicon_lines(session: Session, kind: str = "", query: str = "") -> list[LexiconLine]:
    """Staff entries first (newest first), then the bundled entries they do not change;
    ``query`` matches the term or a phrase, with or without accents."""
    staff = session.scalars(
        select(LexiconEntryRow).order_by(LexiconEntryRow.updated_at.desc())
    ).all()
    bundled = {(e.kind, e.term): e for e in bundled_lexicon().entries}
    changed = {(r.kind, r.term) for r in staff if r.status is not CurationStatus.ARCHIVED}
    lines = [
        LexiconLine(r.kind, r.term, tuple(r.phrases), (r.kind, r.term) in bundled, r) for r in staff
    ]
    lines += [
        LexiconLine(e.kind, e.term, e.phrases, True, None)
        for key, e in bundled.items()
        if key not in changed
    ]
    needle = fold(query)
    return [
        line
        for line in lines
        if (not kind or line.kind == kind)
        and (not needle or any(needle in fold(t) for t in (line.term, *line.phrases)))
    ]


def bundled_entry(kind: str, term: str) -> LexiconEntry | None:
    wanted = (kind, normalize_text(term))
    return next((e for e in bundled_lexicon().entries if (e.kind, e.term) == wanted), None)
