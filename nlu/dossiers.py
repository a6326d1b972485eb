"""Dossier status look-up: import from the one-stop-shop CSV export, code normalisation,
second-factor check and a limit on failed attempts."""

from __future__ import annotations

import csv
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from nlu.models import Dossier

logger = logging.getLogger(__name__)
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


@dataclass(frozen=True)
class Quota:
    """At most ``limit`` failed look-ups for ``key`` inside ``window_s`` seconds."""

    key: str
    limit: int
    window_s: int


class AttemptLimiter(Protocol):
    """Check and count in one step, so parallel guesses cannot all pass a check made before
    any of them is counted: ``reserve`` counts an attempt against every quota, or refuses
    without counting when one is used up; ``release`` takes back a reservation that turned
    out to be a success."""

    def reserve(self, quotas: Sequence[Quota]) -> bool: ...

    def release(self, quotas: Sequence[Quota]) -> None: ...


@dataclass
class _Attempts:
    window_s: int
    times: list[float] = field(default_factory=list)  # monotonic, oldest first


class MemoryAttemptLimiter:
    """One process only (development; production shares ``RedisAttemptLimiter``).

    Keys come from clients (conversation ids, typed codes), so the map is bounded: over
    ``max_keys``, keys whose window has passed are swept, then the least recently used are
    forgotten. A flood of distinct keys thus costs no memory, but can reset old counters:
    one more reason production runs on Redis.
    """

    def __init__(self, max_keys: int = 10_000) -> None:
        self.max_keys = max_keys
        self._attempts: OrderedDict[str, _Attempts] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._attempts)

    def _recent(self, quota: Quota, now: float) -> int:
        entry = self._attempts.get(quota.key)
        if entry is None:
            return 0
        entry.times = [t for t in entry.times if t > now - quota.window_s]
        if not entry.times:
            del self._attempts[quota.key]
        return len(entry.times)

    def reserve(self, quotas: Sequence[Quota]) -> bool:
        now = time.monotonic()
        with self._lock:
            if any(self._recent(q, now) >= q.limit for q in quotas):
                return False
            for quota in quotas:
                entry = self._attempts.setdefault(quota.key, _Attempts(quota.window_s))
                entry.window_s = quota.window_s
                entry.times.append(now)
                self._attempts.move_to_end(quota.key)
            if len(self._attempts) > self.max_keys:
                self._shrink(now)
            return True

    def release(self, quotas: Sequence[Quota]) -> None:
        with self._lock:
            for quota in quotas:
                entry = self._attempts.get(quota.key)
                if entry is not None and entry.times:
                    entry.times.pop()

    def _shrink(self, now: float) -> None:
        expired = [
            k for k, e in self._attempts.items() if not e.times or e.times[-1] <= now - e.window_s
        ]
        for key in expired:
            del self._attempts[key]
        while len(self._attempts) > self.max_keys:
            self._attempts.popitem(last=False)


# KEYS: the counters; ARGV: limit and window of each, in turn. Refuse without counting when
# any counter is full; otherwise count on all (a new counter expires with its window).
_RESERVE = """
for i, key in ipairs(KEYS) do
  local used = tonumber(redis.call('GET', key) or '0')
  if used >= tonumber(ARGV[2 * i - 1]) then return 0 end
end
for i, key in ipairs(KEYS) do
  if redis.call('INCR', key) == 1 then redis.call('EXPIRE', key, ARGV[2 * i]) end
end
return 1
"""
_RELEASE = """
for _, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') > 0 then redis.call('DECR', key) end
end
return 1
"""


class RedisAttemptLimiter:
    """Shared by every process and replica; each step is one Lua script, so it is atomic."""

    def __init__(self, url: str) -> None:
        import redis

        client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._errors = (redis.RedisError,)
        self._reserve = client.register_script(_RESERVE)
        self._release = client.register_script(_RELEASE)

    @staticmethod
    def _names(quotas: Sequence[Quota]) -> list[str]:
        return [f"hotline:dossier-attempts:{q.key}" for q in quotas]

    def reserve(self, quotas: Sequence[Quota]) -> bool:
        """Fails closed: without its counters the look-up would be an unlimited oracle."""
        args = [v for q in quotas for v in (q.limit, q.window_s)]
        try:
            return bool(self._reserve(keys=self._names(quotas), args=args))
        except self._errors:
            logger.warning("dossiers.limiter_unavailable", extra={"fail": "closed"})
            return False

    def release(self, quotas: Sequence[Quota]) -> None:
        try:
            self._release(keys=self._names(quotas))
        except self._errors:
            logger.warning("dossiers.limiter_unavailable", extra={"step": "release"})


class TooManyAttemptsError(Exception):
    """Too many failed look-ups for this conversation or dossier code; try again later."""


@dataclass(frozen=True)
class DossierStatus:
    code: str
    procedure_name: str
    status: str
    receiving_agency: str
    due_on: date | None


@dataclass(frozen=True)
class LookUpLimits:
    max_failures: int  # per conversation and per dossier code, inside window_s
    window_s: int
    client_max_failures: int  # per client address, inside client_window_s
    client_window_s: int

    def quotas(self, conversation_id: str, code: str, client: str) -> list[Quota]:
        quotas = [
            Quota(f"conv:{conversation_id}", self.max_failures, self.window_s),
            Quota(f"code:{code}", self.max_failures, self.window_s),
        ]
        if client:
            quotas.append(Quota(f"client:{client}", self.client_max_failures, self.client_window_s))
        return quotas


def look_up(
    session: Session,
    limiter: AttemptLimiter,
    limits: LookUpLimits,
    conversation_id: str,
    code: str,
    last4: str,
    client: str = "",
) -> DossierStatus | None:
    """The status when code and phone digits match, else None; raises when rate-limited.

    Failures count per conversation, per dossier code (guessing the four digits from many
    conversations) and per client address (trying many codes). The attempt is counted before
    the look-up and taken back when it succeeds.
    """
    quotas = limits.quotas(conversation_id, code, client)
    if not limiter.reserve(quotas):
        raise TooManyAttemptsError(conversation_id)
    dossier = session.scalar(select(Dossier).where(Dossier.code == code))
    if dossier is None or dossier.phone_last4 != last4:
        return None
    limiter.release(quotas)
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
