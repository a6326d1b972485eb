"""What gets indexed: procedures and published FAQ entries, flattened to searchable text."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from knowledge_base.curation import is_live
from knowledge_base.models import FaqEntry, LexiconEntryRow, Procedure
from knowledge_base.understanding.lexicon import active_lexicon

_SPACE_RE = re.compile(r"\s+")


def _squash(text: str, limit: int) -> str:
    return _SPACE_RE.sub(" ", text).strip()[:limit]


@dataclass(frozen=True)
class SearchDocument:
    key: str  # "procedure:1.001193" or "faq:12"
    kind: str  # "procedure" | "faq"
    title: str
    codes: tuple[str, ...]
    lexical_text: str
    passages: tuple[str, ...] = field(default_factory=tuple)


def procedure_document(p: Procedure) -> SearchDocument:
    documents = " ".join(d.name for d in p.documents)
    # The name is repeated so that it outweighs the long free-text fields in BM25.
    lexical = " . ".join(
        [p.name, p.name, p.name, p.field, p.result, _squash(documents, 1500), p.competent_agency]
    )
    # Measured on the citizen-question set: a name-and-field passage ranks better than adding
    # documents or steps, which dilute the vector.
    passages = (_squash(f"{p.name}. Lĩnh vực: {p.field}", 400),)
    return SearchDocument(
        key=f"procedure:{p.code}",
        kind="procedure",
        title=p.name,
        codes=(p.code,),
        lexical_text=lexical,
        passages=passages,
    )


def faq_document(entry: FaqEntry) -> SearchDocument:
    questions = [q for q in entry.questions if q.strip()]
    lexical = " . ".join([*questions, *questions, _squash(entry.answer, 800)])
    passages = tuple(_squash(q, 300) for q in questions) or (_squash(entry.answer, 300),)
    return SearchDocument(
        key=f"faq:{entry.id}",
        kind="faq",
        title=questions[0] if questions else entry.answer[:80],
        codes=tuple(entry.procedure_codes),
        lexical_text=lexical,
        passages=passages,
    )


def load_documents(session: Session) -> list[SearchDocument]:
    procedures = session.scalars(select(Procedure).order_by(Procedure.code)).all()
    faqs = session.scalars(select(FaqEntry).where(is_live(FaqEntry)).order_by(FaqEntry.id)).all()
    return [procedure_document(p) for p in procedures] + [faq_document(f) for f in faqs]


def corpus_hash(documents: list[SearchDocument]) -> str:
    """Of the documents and of the lexicon that expands them for BM25."""
    digest = hashlib.sha256(active_lexicon().digest.encode())
    for doc in documents:
        digest.update(doc.key.encode())
        digest.update(doc.lexical_text.encode())
        for passage in doc.passages:
            digest.update(passage.encode())
    return digest.hexdigest()


def content_stamp(session: Session) -> str:
    """What the index is built from, summarised by one cheap query per table: replicas that
    share no disk compare it with the stamp their index was built at, and rebuild when it
    moved (a FAQ published on another replica, a catalogue import, a lexicon change)."""
    parts = []
    for model in (Procedure, FaqEntry, LexiconEntryRow):
        count, newest = session.execute(
            select(func.count(), func.max(model.updated_at)).select_from(model)
        ).one()
        parts.append(f"{count}@{newest}")
    return "|".join(parts)
