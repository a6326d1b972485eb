"""Catalogue and FAQ tables (SQLAlchemy 2, portable between SQLite and PostgreSQL)."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class Channel(enum.StrEnum):
    """How a dossier can be submitted."""

    IN_PERSON = "truc_tiep"
    ONLINE = "truc_tuyen"
    POST = "buu_chinh"

    @property
    def label(self) -> str:
        return {"truc_tiep": "Trực tiếp", "truc_tuyen": "Trực tuyến", "buu_chinh": "Bưu chính"}[
            self.value
        ]


class CurationStatus(enum.StrEnum):
    """Where the newest version of a curated entry (FAQ, lexicon) stands: draft → in review →
    published → archived."""

    DRAFT = "draft"
    IN_REVIEW = "in_review"
    PUBLISHED = "published"
    ARCHIVED = "archived"


def _status_column() -> Mapped[CurationStatus]:
    return mapped_column(
        Enum(
            CurationStatus,
            native_enum=False,
            length=16,
            values_callable=lambda e: [m.value for m in e],
        ),
        default=CurationStatus.DRAFT,
    )


class CuratedEntry:
    """Columns of an entry that goes through the curation workflow (``curation.Workflow``)."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[CurationStatus] = _status_column()
    # Optimistic lock: the newest version number; an edit names the version it started from.
    version: Mapped[int] = mapped_column(Integer, default=1)
    # The version whose content is live in the entry's fields (None: nothing live yet).
    published_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class CuratedVersion:
    """Columns of one saved state of a curated entry, never changed afterwards."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[int] = mapped_column(Integer)
    author: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Procedure(Base):
    __tablename__ = "procedures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True, index=True)
    name: Mapped[str] = mapped_column(Text)
    field: Mapped[str] = mapped_column(String(255), default="", index=True)
    levels: Mapped[list[str]] = mapped_column(JSON, default=list)
    implementing_agency: Mapped[str] = mapped_column(Text, default="")
    competent_agency: Mapped[str] = mapped_column(Text, default="")
    receiving_address: Mapped[str] = mapped_column(Text, default="")
    target_group: Mapped[str] = mapped_column(Text, default="")
    steps: Mapped[str] = mapped_column(Text, default="")
    result: Mapped[str] = mapped_column(Text, default="")
    legal_basis: Mapped[list[str]] = mapped_column(JSON, default=list)
    conditions: Mapped[str] = mapped_column(Text, default="")
    source_url: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(64), default="")
    content_hash: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    channels: Mapped[list[ProcedureChannel]] = relationship(
        back_populates="procedure",
        cascade="all, delete-orphan",
        order_by="ProcedureChannel.position",
        lazy="selectin",
    )
    documents: Mapped[list[ProcedureDocument]] = relationship(
        back_populates="procedure",
        cascade="all, delete-orphan",
        order_by="ProcedureDocument.position",
        lazy="selectin",
    )


class ProcedureChannel(Base):
    """One submission channel with its own time limit and fee, as the portal tabulates them."""

    __tablename__ = "procedure_channels"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    procedure_id: Mapped[int] = mapped_column(
        ForeignKey("procedures.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    channel: Mapped[Channel] = mapped_column(
        Enum(Channel, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])
    )
    time_limit_text: Mapped[str] = mapped_column(Text, default="")
    time_limit_value: Mapped[Decimal | None] = mapped_column(Numeric(10, 2), nullable=True)
    time_limit_unit: Mapped[str | None] = mapped_column(String(32), nullable=True)
    fee_text: Mapped[str] = mapped_column(Text, default="")
    fee_vnd: Mapped[int | None] = mapped_column(Integer, nullable=True)
    fee_free: Mapped[bool] = mapped_column(default=False)
    description: Mapped[str] = mapped_column(Text, default="")

    procedure: Mapped[Procedure] = relationship(back_populates="channels")


class ProcedureDocument(Base):
    __tablename__ = "procedure_documents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    procedure_id: Mapped[int] = mapped_column(
        ForeignKey("procedures.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(Text)
    originals: Mapped[int | None] = mapped_column(Integer, nullable=True)
    copies: Mapped[int | None] = mapped_column(Integer, nullable=True)
    form: Mapped[str] = mapped_column(Text, default="")

    procedure: Mapped[Procedure] = relationship(back_populates="documents")


class FaqEntry(CuratedEntry, Base):
    __tablename__ = "faq_entries"
    __table_args__ = (Index("ix_faq_entries_status", "status"),)

    questions: Mapped[list[str]] = mapped_column(JSON, default=list)
    answer: Mapped[str] = mapped_column(Text)
    procedure_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)


class FaqVersion(CuratedVersion, Base):
    __tablename__ = "faq_versions"
    __table_args__ = (UniqueConstraint("entry_id", "number"),)

    entry_id: Mapped[int] = mapped_column(ForeignKey("faq_entries.id", ondelete="CASCADE"))
    questions: Mapped[list[str]] = mapped_column(JSON, default=list)
    answer: Mapped[str] = mapped_column(Text)
    procedure_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)


class LexiconEntryRow(CuratedEntry, Base):
    """A staff-curated lexicon entry: new phrases for a catalogue term, or a change to (or the
    retirement of) the bundled entry with the same kind and term."""

    __tablename__ = "lexicon_entries"
    __table_args__ = (Index("ix_lexicon_entries_status", "status"),)

    kind: Mapped[str] = mapped_column(String(16))
    term: Mapped[str] = mapped_column(String(200))
    phrases: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(default=True)


class LexiconVersion(CuratedVersion, Base):
    __tablename__ = "lexicon_versions"
    __table_args__ = (UniqueConstraint("entry_id", "number"),)

    entry_id: Mapped[int] = mapped_column(ForeignKey("lexicon_entries.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    term: Mapped[str] = mapped_column(String(200))
    phrases: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(default=True)


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(40))
    target: Mapped[str] = mapped_column(String(80))
    detail: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )


class ProvinceFact(Base):
    """A figure the province publishes about its services, entered by an admin."""

    __tablename__ = "province_facts"

    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[str] = mapped_column(String(40))
    as_of: Mapped[str] = mapped_column(String(60), default="")  # "tháng 10/2026"
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class WordingLink(Base):
    """A citizen's wording staff tied to a procedure (from the inbox or the handoff desk): a
    training example for the ranker, next to the questions of FAQ entries."""

    __tablename__ = "wording_links"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    question: Mapped[str] = mapped_column(Text)
    procedure_code: Mapped[str] = mapped_column(String(32), index=True)
    source: Mapped[str] = mapped_column(String(16))  # inbox | handoff
    actor: Mapped[str] = mapped_column(String(64))
    conversation_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SiteRanker(Base):
    """A ranker trained for this site, kept where every replica reads it (the newest serves)."""

    __tablename__ = "site_rankers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_text: Mapped[str] = mapped_column(Text)
    meta_text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
