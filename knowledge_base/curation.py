"""Staff curation of live content (FAQ entries, the citizens' lexicon): versions, the draft → in
review → published → archived workflow, rollback, diffs and the audit log. One workflow serves
every kind of entry; role checks live in the API; this module trusts its caller."""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Generic, TypeVar, cast

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from knowledge_base.models import (
    AuditEntry,
    CuratedEntry,
    CuratedVersion,
    CurationStatus,
    FaqEntry,
    FaqVersion,
    LexiconEntryRow,
    LexiconVersion,
)


class CurationError(Exception):
    """Base of the curation errors the API maps to HTTP."""


class EntryNotFoundError(CurationError):
    pass


class VersionConflictError(CurationError):
    """Someone saved the entry after this editor opened it; reload and merge."""


class WorkflowError(CurationError):
    """The step is not allowed from the entry's current state."""


class FourEyesError(WorkflowError):
    """Publishing needs the entry sent for review and a person other than its last author."""


class InvalidEntryError(CurationError):
    """The content cannot be saved as it is; the message (Vietnamese) says why."""


@dataclass(frozen=True)
class FaqContent:
    questions: list[str]
    answer: str
    procedure_codes: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PhraseContent:
    """A lexicon entry as staff write it: citizens' phrases → the catalogue's wording."""

    kind: str
    term: str
    phrases: list[str]
    active: bool = True  # False: retire the bundled entry with this kind and term


EntryT = TypeVar("EntryT", bound=CuratedEntry)
VersionT = TypeVar("VersionT", bound=CuratedVersion)
ContentT = TypeVar("ContentT")


def is_live(model: type[FaqEntry] | type[LexiconEntryRow]) -> ColumnElement[bool]:
    """Entries whose content serves: published, or published earlier with a newer draft still
    in the works."""
    return or_(
        model.status == CurationStatus.PUBLISHED,
        model.published_version.is_not(None) & (model.status != CurationStatus.ARCHIVED),
    )


def _copy(content: Any) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, list) else v for k, v in asdict(content).items()}


class Workflow(Generic[EntryT, VersionT, ContentT]):
    """The entry table holds the live (published) content and the newest version number; the
    version table keeps every saved state, never changed afterwards."""

    def __init__(
        self,
        entry_model: type[EntryT],
        version_model: type[VersionT],
        content_type: type[ContentT],
        target: str,
        as_lines: Callable[[VersionT], list[str]],
    ) -> None:
        self.entry_model = entry_model
        self.version_model = version_model
        self.content_type = content_type
        self.target = target
        self._as_lines = as_lines
        self._fields = [f.name for f in fields(cast(Any, content_type))]

    def _audit(
        self, session: Session, actor: str, action: str, entry_id: int, detail: str = ""
    ) -> None:
        target = f"{self.target}:{entry_id}"
        session.add(AuditEntry(actor=actor, action=action, target=target, detail=detail))

    def _missing(self, entry_id: int) -> EntryNotFoundError:
        return EntryNotFoundError(f"{self.target} entry {entry_id} does not exist")

    def get(self, session: Session, entry_id: int) -> EntryT:
        entry = session.get(self.entry_model, entry_id)
        if entry is None:
            raise self._missing(entry_id)
        return entry

    def _locked(self, session: Session, entry_id: int) -> EntryT:
        entry = session.get(self.entry_model, entry_id, with_for_update=True)
        if entry is None:
            raise self._missing(entry_id)
        return entry

    def version(self, session: Session, entry_id: int, number: int) -> VersionT:
        model: Any = self.version_model
        found = session.scalar(
            select(model).where(model.entry_id == entry_id, model.number == number)
        )
        if found is None:
            raise EntryNotFoundError(f"{self.target} entry {entry_id} has no version {number}")
        return found  # type: ignore[no-any-return]

    def content_of(self, row: EntryT | VersionT) -> ContentT:
        return self.content_type(**{name: getattr(row, name) for name in self._fields})

    def _add_version(
        self, session: Session, entry: EntryT, content: ContentT, actor: str, note: str
    ) -> VersionT:
        model: Any = self.version_model
        row: VersionT = model(
            entry_id=entry.id, number=entry.version, author=actor, note=note, **_copy(content)
        )
        session.add(row)
        return row

    def create(self, session: Session, actor: str, content: ContentT) -> EntryT:
        model: Any = self.entry_model
        entry: EntryT = model(
            status=CurationStatus.DRAFT, version=1, published_version=None, **_copy(content)
        )
        session.add(entry)
        session.flush()
        self._add_version(session, entry, content, actor, "created")
        self._audit(session, actor, "create", entry.id)
        return entry

    def update(
        self, session: Session, actor: str, entry_id: int, expected_version: int, content: ContentT
    ) -> EntryT:
        """A new draft version; the live content keeps serving until it is published."""
        entry = self._locked(session, entry_id)
        if entry.version != expected_version:
            raise VersionConflictError(
                f"entry {entry_id} is at version {entry.version}, the edit started from "
                f"{expected_version}; reload it and apply the change again"
            )
        entry.version += 1
        entry.status = CurationStatus.DRAFT
        self._add_version(session, entry, content, actor, "edited")
        self._audit(session, actor, "edit", entry.id, f"version {entry.version}")
        return entry

    def submit(self, session: Session, actor: str, entry_id: int) -> EntryT:
        entry = self._locked(session, entry_id)
        if entry.status is not CurationStatus.DRAFT:
            raise WorkflowError(f"only a draft can be sent for review (entry is {entry.status})")
        entry.status = CurationStatus.IN_REVIEW
        self._audit(session, actor, "submit", entry.id, f"version {entry.version}")
        return entry

    def _make_live(self, entry: EntryT, row: VersionT) -> None:
        for name, value in _copy(self.content_of(row)).items():
            setattr(entry, name, value)
        entry.published_version = row.number
        entry.status = CurationStatus.PUBLISHED

    def publish(
        self, session: Session, actor: str, entry_id: int, single_person: bool = False
    ) -> EntryT:
        """Four eyes: the newest version must have been sent for review, and the reviewer
        must not be its author — unless ``single_person`` (an office of one)."""
        entry = self._locked(session, entry_id)
        if entry.status is CurationStatus.DRAFT and not single_person:
            raise FourEyesError("send the entry for review before it is published")
        if entry.status not in (CurationStatus.DRAFT, CurationStatus.IN_REVIEW):
            raise WorkflowError(f"nothing to publish (entry is {entry.status})")
        newest = self.version(session, entry_id, entry.version)
        if newest.author == actor and not single_person:
            raise FourEyesError("the author of a version cannot publish it; another reviewer must")
        self._make_live(entry, newest)
        self._audit(session, actor, "publish", entry.id, f"version {entry.version}")
        return entry

    def rollback(self, session: Session, actor: str, entry_id: int, number: int) -> EntryT:
        """Publish the content of an older version again, as a new version."""
        entry = self._locked(session, entry_id)
        old = self.version(session, entry_id, number)
        entry.version += 1
        row = self._add_version(
            session, entry, self.content_of(old), actor, f"rollback to {number}"
        )
        session.flush()
        self._make_live(entry, row)
        self._audit(session, actor, "rollback", entry.id, f"to version {number} as {entry.version}")
        return entry

    def archive(self, session: Session, actor: str, entry_id: int) -> EntryT:
        entry = self._locked(session, entry_id)
        entry.status = CurationStatus.ARCHIVED
        entry.published_version = None
        self._audit(session, actor, "archive", entry.id)
        return entry

    def versions(self, session: Session, entry_id: int) -> list[VersionT]:
        self._locked(session, entry_id)
        model: Any = self.version_model
        query = select(model).where(model.entry_id == entry_id).order_by(model.number)
        return list(session.scalars(query))

    def audit(self, session: Session, entry_id: int, limit: int = 50) -> list[AuditEntry]:
        query = (
            select(AuditEntry)
            .where(AuditEntry.target == f"{self.target}:{entry_id}")
            .order_by(AuditEntry.id.desc())
            .limit(limit)
        )
        return list(session.scalars(query))

    def diff(self, session: Session, entry_id: int, old: int, new: int) -> str:
        a, b = self.version(session, entry_id, old), self.version(session, entry_id, new)
        return "\n".join(
            difflib.unified_diff(
                self._as_lines(a),
                self._as_lines(b),
                f"phiên bản {old}",
                f"phiên bản {new}",
                lineterm="",
            )
        )


def _faq_lines(row: FaqVersion) -> list[str]:
    return [
        *[f"Câu hỏi: {q}" for q in row.questions],
        *[f"Trả lời: {line}" for line in row.answer.splitlines()],
        f"Thủ tục: {json.dumps(row.procedure_codes, ensure_ascii=False)}",
        f"Nhãn: {json.dumps(row.tags, ensure_ascii=False)}",
    ]


def _lexicon_lines(row: LexiconVersion) -> list[str]:
    return [
        f"Loại: {row.kind}",
        f"Cách viết chính thức: {row.term}",
        *[f"Cách nói: {p}" for p in row.phrases],
        f"Đang dùng: {'có' if row.active else 'không (bỏ mục có sẵn)'}",
    ]


FAQ: Workflow[FaqEntry, FaqVersion, FaqContent] = Workflow(
    FaqEntry, FaqVersion, FaqContent, "faq", _faq_lines
)
LEXICON: Workflow[LexiconEntryRow, LexiconVersion, PhraseContent] = Workflow(
    LexiconEntryRow, LexiconVersion, PhraseContent, "lexicon", _lexicon_lines
)
