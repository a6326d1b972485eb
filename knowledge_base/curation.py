"""FAQ curation: versions, the draft → in review → published → archived workflow, rollback,
diffs and the audit log. Role checks live in the API; this module trusts its caller."""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from knowledge_base.models import AuditEntry, FaqEntry, FaqStatus, FaqVersion


class CurationError(Exception):
    """Base of the curation errors the API maps to HTTP."""


class FaqNotFoundError(CurationError):
    pass


class VersionConflictError(CurationError):
    """Someone saved the entry after this editor opened it; reload and merge."""


class WorkflowError(CurationError):
    """The step is not allowed from the entry's current state."""


@dataclass(frozen=True)
class FaqContent:
    questions: list[str]
    answer: str
    procedure_codes: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)


def _audit(session: Session, actor: str, action: str, entry_id: int, detail: str = "") -> None:
    session.add(AuditEntry(actor=actor, action=action, target=f"faq:{entry_id}", detail=detail))


def get(session: Session, entry_id: int) -> FaqEntry:
    entry = session.get(FaqEntry, entry_id)
    if entry is None:
        raise FaqNotFoundError(f"FAQ entry {entry_id} does not exist")
    return entry


def _entry(session: Session, entry_id: int) -> FaqEntry:
    entry = session.get(FaqEntry, entry_id, with_for_update=True)
    if entry is None:
        raise FaqNotFoundError(f"FAQ entry {entry_id} does not exist")
    return entry


def version(session: Session, entry_id: int, number: int) -> FaqVersion:
    found = session.scalar(
        select(FaqVersion).where(FaqVersion.entry_id == entry_id, FaqVersion.number == number)
    )
    if found is None:
        raise FaqNotFoundError(f"FAQ entry {entry_id} has no version {number}")
    return found


def _add_version(
    session: Session, entry: FaqEntry, number: int, content: FaqContent, actor: str, note: str
) -> FaqVersion:
    row = FaqVersion(
        entry_id=entry.id,
        number=number,
        questions=list(content.questions),
        answer=content.answer,
        procedure_codes=list(content.procedure_codes),
        tags=list(content.tags),
        author=actor,
        note=note,
    )
    session.add(row)
    return row


def create(session: Session, actor: str, content: FaqContent) -> FaqEntry:
    entry = FaqEntry(
        questions=list(content.questions),
        answer=content.answer,
        procedure_codes=list(content.procedure_codes),
        tags=list(content.tags),
        status=FaqStatus.DRAFT,
        version=1,
        published_version=None,
    )
    session.add(entry)
    session.flush()
    _add_version(session, entry, 1, content, actor, "created")
    _audit(session, actor, "create", entry.id)
    return entry


def update(
    session: Session, actor: str, entry_id: int, expected_version: int, content: FaqContent
) -> FaqEntry:
    """A new draft version; the live (published) content keeps serving until it is published."""
    entry = _entry(session, entry_id)
    if entry.version != expected_version:
        raise VersionConflictError(
            f"entry {entry_id} is at version {entry.version}, the edit started from "
            f"{expected_version}; reload it and apply the change again"
        )
    entry.version += 1
    entry.status = FaqStatus.DRAFT
    _add_version(session, entry, entry.version, content, actor, "edited")
    _audit(session, actor, "edit", entry.id, f"version {entry.version}")
    return entry


def submit(session: Session, actor: str, entry_id: int) -> FaqEntry:
    entry = _entry(session, entry_id)
    if entry.status is not FaqStatus.DRAFT:
        raise WorkflowError(f"only a draft can be sent for review (entry is {entry.status})")
    entry.status = FaqStatus.IN_REVIEW
    _audit(session, actor, "submit", entry.id, f"version {entry.version}")
    return entry


def _make_live(entry: FaqEntry, row: FaqVersion) -> None:
    entry.questions, entry.answer = list(row.questions), row.answer
    entry.procedure_codes, entry.tags = list(row.procedure_codes), list(row.tags)
    entry.published_version = row.number
    entry.status = FaqStatus.PUBLISHED


def publish(session: Session, actor: str, entry_id: int) -> FaqEntry:
    entry = _entry(session, entry_id)
    if entry.status not in (FaqStatus.DRAFT, FaqStatus.IN_REVIEW):
        raise WorkflowError(f"nothing to publish (entry is {entry.status})")
    _make_live(entry, version(session, entry_id, entry.version))
    _audit(session, actor, "publish", entry.id, f"version {entry.version}")
    return entry


def rollback(session: Session, actor: str, entry_id: int, number: int) -> FaqEntry:
    """Publish the content of an older version again, as a new version."""
    entry = _entry(session, entry_id)
    old = version(session, entry_id, number)
    entry.version += 1
    content = FaqContent(old.questions, old.answer, old.procedure_codes, old.tags)
    row = _add_version(session, entry, entry.version, content, actor, f"rollback to {number}")
    session.flush()
    _make_live(entry, row)
    _audit(session, actor, "rollback", entry.id, f"to version {number} as {entry.version}")
    return entry


def archive(session: Session, actor: str, entry_id: int) -> FaqEntry:
    entry = _entry(session, entry_id)
    entry.status = FaqStatus.ARCHIVED
    entry.published_version = None
    _audit(session, actor, "archive", entry.id)
    return entry


def versions(session: Session, entry_id: int) -> list[FaqVersion]:
    _entry(session, entry_id)
    return list(
        session.scalars(
            select(FaqVersion).where(FaqVersion.entry_id == entry_id).order_by(FaqVersion.number)
        )
    )


def _as_lines(row: FaqVersion) -> list[str]:
    return [
        *[f"Câu hỏi: {q}" for q in row.questions],
        *[f"Trả lời: {line}" for line in row.answer.splitlines()],
        f"Thủ tục: {json.dumps(row.procedure_codes, ensure_ascii=False)}",
        f"Nhãn: {json.dumps(row.tags, ensure_ascii=False)}",
    ]


def diff(session: Session, entry_id: int, old: int, new: int) -> str:
    a, b = version(session, entry_id, old), version(session, entry_id, new)
    return "\n".join(
        difflib.unified_diff(
            _as_lines(a), _as_lines(b), f"phiên bản {old}", f"phiên bản {new}", lineterm=""
        )
    )
