"""Idempotent catalogue import: one transaction per file, one savepoint per line."""

from __future__ import annotations

import gzip
import io
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from knowledge_base.importers.formats import CONVERTERS, SourceFormat, detect_format
from knowledge_base.importers.records import ProcedureRecord
from knowledge_base.models import Procedure, ProcedureChannel, ProcedureDocument
from knowledge_base.parsing.money_time import parse_fee, parse_time_limit

logger = logging.getLogger(__name__)


@dataclass
class Rejection:
    line: int
    reason: str


@dataclass
class ImportReport:
    source: str
    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[Rejection] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.imported + self.updated + self.unchanged + len(self.rejected)

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "imported": self.imported,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": [{"line": r.line, "reason": r.reason} for r in self.rejected],
        }


def open_lines(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8")
    return path.open(encoding="utf-8")


def _describe(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'record'}: {e['msg']}" for e in error.errors()
    )


def parse_lines(
    lines: Iterator[str] | IO[str], source_format: SourceFormat | None
) -> Iterator[tuple[int, ProcedureRecord | Rejection]]:
    """Yield each non-blank line's record, or the reason it cannot be imported."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, Rejection(number, f"not valid JSON: {exc.msg} at column {exc.colno}")
            continue
        except RecursionError:
            yield number, Rejection(number, "JSON nested too deeply")
            continue
        if not isinstance(row, dict):
            yield number, Rejection(number, "a line must be a JSON object")
            continue
        fmt = source_format or detect_format(row)
        try:
            yield number, CONVERTERS[fmt](row)
        except ValidationError as exc:
            yield number, Rejection(number, _describe(exc))
        except (TypeError, ValueError, AttributeError) as exc:
            yield number, Rejection(number, f"cannot read the record: {exc}")


def _apply(procedure: Procedure, record: ProcedureRecord, source: str) -> None:
    procedure.code = record.code
    procedure.name = record.name
    procedure.field = record.field
    procedure.levels = record.levels
    procedure.implementing_agency = record.implementing_agency
    procedure.competent_agency = record.competent_agency
    procedure.receiving_address = record.receiving_address
    procedure.target_group = record.target_group
    procedure.steps = record.steps
    procedure.result = record.result
    procedure.legal_basis = record.legal_basis
    procedure.conditions = record.conditions
    procedure.source_url = record.source_url
    procedure.source = source
    procedure.content_hash = record.content_hash()
    procedure.channels = []
    for position, ch in enumerate(record.channels):
        time_limit = parse_time_limit(ch.time_limit) if ch.time_limit else None
        fee = parse_fee(ch.fee) if ch.fee else None
        procedure.channels.append(
            ProcedureChannel(
                position=position,
                channel=ch.channel,
                time_limit_text=ch.time_limit,
                time_limit_value=time_limit.value if time_limit else None,
                time_limit_unit=time_limit.unit if time_limit else None,
                fee_text=ch.fee,
                fee_vnd=fee.amount_vnd if fee else None,
                fee_free=bool(fee and fee.free),
                description=ch.description,
            )
        )
    procedure.documents = [
        ProcedureDocument(
            position=position, name=d.name, originals=d.originals, copies=d.copies, form=d.form
        )
        for position, d in enumerate(record.documents)
    ]


def import_records(
    session: Session,
    rows: Iterator[tuple[int, ProcedureRecord | Rejection]],
    report: ImportReport,
    source: str,
) -> ImportReport:
    """Upsert every record inside the caller's transaction; a failing line rolls back alone."""
    seen: dict[str, int] = {}
    for number, item in rows:
        if isinstance(item, Rejection):
            report.rejected.append(item)
            continue
        if item.code in seen:
            report.rejected.append(
                Rejection(number, f"duplicate code {item.code} (first on line {seen[item.code]})")
            )
            continue
        seen[item.code] = number
        existing = session.scalar(select(Procedure).where(Procedure.code == item.code))
        if existing is not None and existing.content_hash == item.content_hash():
            report.unchanged += 1
            continue
        try:
            with session.begin_nested():
                procedure = existing or Procedure()
                _apply(procedure, item, source)
                if existing is None:
                    session.add(procedure)
                session.flush()
        except Exception as exc:  # a database refusal of one line must not stop the file
            logger.warning("import.line_failed", extra={"line": number, "error": str(exc)})
            report.rejected.append(Rejection(number, f"database refused the record: {exc}"))
            continue
        if existing is None:
            report.imported += 1
        else:
            report.updated += 1
    return report
