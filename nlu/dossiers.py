"""Dossier status look-up: import from the one-stop-shop CSV export, code normalisation,
second-factor check and a limit on failed attempts."""

from __future__ import annotations

import csv
import re
import threading
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from nlu.models import Dossier

DOSSIER_CODE_RE = re.compile(r"\d{3}\.\d{2}\.\d{2}\.[A-Z]\d{2}-\d{6}-\d{4}")
_COMPACT_CODE_RE = re.compile(r"(\d{3})(\d{2})(\d{2})([A-Z]\d{2})(\d{6})(\d{4})")
CSV_COLUMNS = (
    "ma_ho_so",
    "so_dien_thoai",
    "ten_thu_tuc",
    "trang_thai",
    "co_quan_tiep_nhan",
    "ngay_tiep_nhan",
    "ngay_hen_tra",
)


def normalize_dossier_code(text: str) -> str | None:
    """Read a dossier code typed or spoken with spaces, dots or dashes anywhere."""
    found = DOSSIER_CODE_RE.search(text.upper())
    if found:
        return found.group(0)
    compact = re.sub(r"[^0-9A-Z]", "", text.upper())
    match = _COMPACT_CODE_RE.search(compact)
    if match is None:
        return None
    a, b, c, d, e, f = match.groups()
    return f"{a}.{b}.{c}.{d}-{e}-{f}"


def normalize_last4(text: str) -> str | None:
    digits = re.sub(r"\D", "", text)
    return digits[-4:] if len(digits) >= 4 else None


@dataclass(frozen=True)
class DossierImportReport:
    imported: int
    updated: int
    rejected: list[tuple[int, str]]


def _parse_date(value: str) -> date | None:
    value = value.strip()
    return date.fromisoformat(value) if value else None


def read_dossier_csv(path: Path) -> Iterable[tuple[int, dict[str, str]]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        lines = (line for line in handle if not line.startswith("#"))
        reader = csv.DictReader(lines)
        missing = set(CSV_COLUMNS) - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"dossier CSV lacks columns: {', '.join(sorted(missing))}")
        yield from enumerate(reader, start=2)


def import_dossiers(
    session: Session, rows: Iterable[tuple[int, dict[str, str]]]
) -> DossierImportReport:
    """Upsert by dossier code; only the last four phone digits are kept."""
    imported = updated = 0
    rejected: list[tuple[int, str]] = []
    for number, row in rows:
        code = normalize_dossier_code(row.get("ma_ho_so", ""))
        last4 = normalize_last4(row.get("so_dien_thoai", ""))
        try:
            received, due = _parse_date(row["ngay_tiep_nhan"]), _parse_date(row["ngay_hen_tra"])
        except ValueError:
            rejected.append((number, "dates must be YYYY-MM-DD"))
            continue
        if code is None or last4 is None or not row.get("trang_thai", "").strip():
            rejected.append((number, "needs ma_ho_so, so_dien_thoai and trang_thai"))
            continue
        dossier = session.scalar(select(Dossier).where(Dossier.code == code))
        if dossier is None:
            dossier = Dossier(code=code)
            session.add(dossier)
            imported += 1
        else:
            updated += 1
        dossier.phone_last4 = last4
        dossier.procedure_name = row.get("ten_thu_tuc", "").strip()
        dossier.status = row["trang_thai"].strip()
        dossier.receiving_agency = row.get("co_quan_tiep_nhan", "").strip()
        dossier.received_on, dossier.due_on = received, due
    return DossierImportReport(imported, updated, rejected)


class FailureLimiter(Protocol):
    """Counts failed look-ups per key inside a window."""

    def blocked(self, key: str) -> bool: ...

    def record_failure(self, key: str) -> None: ...


class MemoryFailureLimiter:
    def __init__(self, limit: int = 5, window_s: float = 900.0) -> None:
        self.limit, self.window_s = limit, window_s
        self._failures: dict[str, list[float]] = defaultdict(list)
        self._lock = threading.Lock()

    def _recent(self, key: str) -> list[float]:
        cutoff = time.monotonic() - self.window_s
        recent = [t for t in self._failures[key] if t > cutoff]
        self._failures[key] = recent
        return recent

    def blocked(self, key: str) -> bool:
        with self._lock:
            return len(self._recent(key)) >= self.limit

    def record_failure(self, key: str) -> None:
        with self._lock:
            self._recent(key).append(time.monotonic())


class RedisFailureLimiter:
    """Shared across API replicas: a counter per key that expires with the window."""

    def __init__(self, url: str, limit: int = 5, window_s: int = 900) -> None:
        import redis

        self._redis = redis.Redis.from_url(url)
        self.limit, self.window_s = limit, window_s

    def blocked(self, key: str) -> bool:
        value = self._redis.get(f"hotline:dossier-fail:{key}")
        return value is not None and int(value) >= self.limit

    def record_failure(self, key: str) -> None:
        name = f"hotline:dossier-fail:{key}"
        with self._redis.pipeline() as pipe:
            pipe.incr(name)
            pipe.expire(name, self.window_s, nx=True)
            pipe.execute()


class TooManyAttemptsError(Exception):
    """Too many failed look-ups for this conversation or dossier code; try again later."""


@dataclass(frozen=True)
class DossierStatus:
    code: str
    procedure_name: str
    status: str
    receiving_agency: str
    due_on: date | None


def look_up(
    session: Session, limiter: FailureLimiter, conversation_id: str, code: str, last4: str
) -> DossierStatus | None:
    """The status when code and phone digits match, else None; raises when rate-limited.

    Failures count both per conversation and per dossier code, so guessing the four digits
    from many conversations is limited too.
    """
    keys = (f"conv:{conversation_id}", f"code:{code}")
    if any(limiter.blocked(k) for k in keys):
        raise TooManyAttemptsError(conversation_id)
    dossier = session.scalar(select(Dossier).where(Dossier.code == code))
    if dossier is None or dossier.phone_last4 != last4:
        for key in keys:
            limiter.record_failure(key)
        return None
    return DossierStatus(
        dossier.code,
        dossier.procedure_name,
        dossier.status,
        dossier.receiving_agency,
        dossier.due_on,
    )


SAMPLE_DOSSIERS = Path(__file__).resolve().parent / "data" / "sample_dossiers.csv"


def load_sample_if_empty(session: Session) -> int:
    """Seed the invented demo dossiers into an empty table (embedded default only)."""
    if session.scalar(select(Dossier.id).limit(1)) is not None:
        return 0
    return import_dossiers(session, read_dossier_csv(SAMPLE_DOSSIERS)).imported
