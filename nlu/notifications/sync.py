"""Dossier status from the province's one-stop-shop system, and change detection.

A source yields rows in the CSV export's columns (``nlu.dossiers.CSV_COLUMNS``): a folder of
CSV exports, or an HTTP JSON API whose field names are mapped to ours by a setting. The rows
are upserted as ``import_dossiers`` always did; a subscribed dossier whose status or result
date differs from what was stored gets one outbox message per active subscription, in the
same transaction. The messages' idempotency keys make a second run enqueue nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from knowledge_base.settings import Settings
from nlu.dossiers import CSV_COLUMNS, import_dossiers, normalize_dossier_code, read_dossier_csv
from nlu.models import Dossier
from nlu.notifications.models import Subscription
from nlu.notifications.service import enqueue_status_change

SourceRow = tuple[str, dict[str, str]]  # where it came from (file:line, item n), the row
_CHUNK = 500  # codes per IN (…) list


class SourceError(RuntimeError):
    """The source could not be read (missing folder, HTTP error, unexpected JSON)."""


class DossierSource(Protocol):
    def rows(self) -> Iterable[SourceRow]: ...


@dataclass(frozen=True)
class CsvFileSource:
    path: Path

    def rows(self) -> Iterator[SourceRow]:
        for number, row in read_dossier_csv(self.path):
            yield f"{self.path.name}:{number}", row


@dataclass(frozen=True)
class CsvFolderSource:
    """Every ``*.csv`` in the folder in name order (date-stamped exports: the newest wins)."""

    folder: Path

    def rows(self) -> Iterator[SourceRow]:
        if not self.folder.is_dir():
            raise SourceError(f"not a folder: {self.folder}")
        for path in sorted(self.folder.glob("*.csv")):
            yield from CsvFileSource(path).rows()


_DMY_RE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})")


def _date_text(value: str) -> str:
    """ISO ``YYYY-MM-DD`` from ``YYYY-MM-DD…`` (a timestamp too) or ``DD/MM/YYYY``."""
    value = value.strip()
    if found := _DMY_RE.match(value):
        day, month, year = (int(g) for g in found.groups())
        return date(year, month, day).isoformat()
    return value[:10]


def _dig(data: Any, path: str) -> Any:
    for part in path.split(".") if path else []:
        data = data.get(part) if isinstance(data, dict) else None
    return data


@dataclass
class HttpJsonSource:
    """``GET url`` answering a JSON list of dossiers (or an object holding it at ``items``,
    a dotted path); ``mapping`` names, for each of our columns, their field (a dotted path;
    unnamed columns are read under our own name). One request, no paging."""

    url: str
    mapping: Mapping[str, str] = field(default_factory=dict)
    items: str = ""
    token: str = ""
    timeout_s: float = 30.0
    transport: httpx.BaseTransport | None = None

    def __post_init__(self) -> None:
        unknown = set(self.mapping) - set(CSV_COLUMNS)
        if unknown:
            raise ValueError(f"the field mapping names unknown fields: {sorted(unknown)}")

    def _fetch(self) -> Any:
        headers = {"authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            with httpx.Client(timeout=self.timeout_s, transport=self.transport) as client:
                response = client.get(self.url, headers=headers)
                response.raise_for_status()
                return response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise SourceError(f"{self.url}: {type(exc).__name__}: {exc}") from exc

    def rows(self) -> Iterator[SourceRow]:
        items = _dig(self._fetch(), self.items)
        if not isinstance(items, list):
            raise SourceError(f"{self.url}: no list of dossiers at {self.items or 'the top'}")
        for number, item in enumerate(items, start=1):
            row = {}
            for ours in CSV_COLUMNS:
                value = _dig(item, self.mapping.get(ours, ours))
                text = "" if value is None else str(value)
                row[ours] = _date_text(text) if ours.startswith("ngay_") and text else text
            yield f"item {number}", row


def source_from_spec(spec: str, settings: Settings) -> DossierSource:
    """``csv-folder:PATH``, ``csv:FILE`` or ``http:URL`` (the mapping, the items path and the
    token come from the ``HOTLINE_NOTIFY_SYNC_*`` settings)."""
    kind, _, where = spec.partition(":")
    if kind == "csv-folder" and where:
        return CsvFolderSource(Path(where))
    if kind == "csv" and where:
        return CsvFileSource(Path(where))
    if kind == "http" and where.startswith(("http://", "https://")):
        return HttpJsonSource(
            where,
            settings.notify_sync_mapping,
            settings.notify_sync_items,
            settings.notify_sync_token,
        )
    raise ValueError(f"unknown source {spec!r}: use csv-folder:PATH, csv:FILE or http:URL")


@dataclass(frozen=True)
class SyncReport:
    imported: int
    updated: int
    rejected: list[tuple[str, str]]
    changed: int  # subscribed dossiers whose status or result date changed
    enqueued: int


def _subscribed(session: Session, codes: list[str]) -> dict[str, tuple[str, date | None]]:
    """Status and result date, as stored, of the dossiers someone is subscribed to."""
    state: dict[str, tuple[str, date | None]] = {}
    for start in range(0, len(codes), _CHUNK):
        chunk = codes[start : start + _CHUNK]
        query = (
            select(Dossier.code, Dossier.status, Dossier.due_on)
            .join(Subscription, Subscription.dossier_id == Dossier.id)
            .where(Dossier.code.in_(chunk), Subscription.active)
        )
        for code, status, due in session.execute(query):
            state[code] = (status, due)
    return state


def sync_dossiers(
    session: Session, settings: Settings, source: DossierSource, now: datetime | None = None
) -> SyncReport:
    """Upsert the source's rows and enqueue notifications for what changed (one transaction:
    the caller's)."""
    rows = list(source.rows())
    codes = sorted({c for _, row in rows if (c := normalize_dossier_code(row.get("ma_ho_so", "")))})
    before = _subscribed(session, codes)
    imported = import_dossiers(session, ((i, row) for i, (_, row) in enumerate(rows)))
    session.flush()
    changed = enqueued = 0
    watched = sorted(before)
    for start in range(0, len(watched), _CHUNK):
        chunk = watched[start : start + _CHUNK]
        for dossier in session.scalars(select(Dossier).where(Dossier.code.in_(chunk))):
            if (dossier.status, dossier.due_on) != before[dossier.code]:
                changed += 1
                enqueued += enqueue_status_change(session, settings, dossier, now)
    rejected = [(rows[i][0], reason) for i, reason in imported.rejected]
    return SyncReport(imported.imported, imported.updated, rejected, changed, enqueued)
