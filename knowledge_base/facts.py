"""Figures the province publishes about its own services (number of online services, share of
dossiers submitted online, on-time rate), entered by an admin and answered in chat."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from knowledge_base.models import AuditEntry, ProvinceFact
from knowledge_base.text.normalize import fold_accents, normalize_text

_NUMBER_RE = re.compile(r"^\d{1,3}(?:[.\s]?\d{3})*(?:,\d{1,2})?$|^\d+(?:,\d{1,2})?$")


class FactError(ValueError):
    """A figure that cannot be stored as given (unknown key, not a number, out of range)."""


@dataclass(frozen=True)
class FactKind:
    key: str
    label: str  # shown on the admin page
    percent: bool
    pattern: re.Pattern[str]  # matched against the folded (accent-free, lower-case) question
    sentence: str  # "{province}", "{value}" and "{as_of}" are filled in


FACT_KINDS: tuple[FactKind, ...] = (
    FactKind(
        "on_time_rate",
        "Tỷ lệ hồ sơ giải quyết đúng hạn",
        True,
        re.compile(
            r"\b(?:ty le|phan tram)\b.*\b(?:dung han|dung hen|tre han|qua han)\b"
            r"|\b(?:dung han|dung hen)\b.*\b(?:ty le|phan tram)\b"
        ),
        "Tỷ lệ hồ sơ được giải quyết đúng hạn của {province} là {value}{as_of}.",
    ),
    FactKind(
        "online_submission_share",
        "Tỷ lệ hồ sơ nộp trực tuyến",
        True,
        re.compile(
            r"\b(?:ty le|phan tram|bao nhieu %)\b.*\b(?:truc tuyen|online|qua mang)\b"
            r"|\b(?:truc tuyen|online)\b.*\b(?:ty le|phan tram)\b"
        ),
        "Tỷ lệ hồ sơ được nộp trực tuyến tại {province} là {value}{as_of}.",
    ),
    FactKind(
        "online_services",
        "Số dịch vụ công trực tuyến",
        False,
        re.compile(
            r"\b(?:bao nhieu|may|so luong|tong so)\b.*\b(?:dich vu cong|dvc|thu tuc)\b"
            r".*\b(?:truc tuyen|online)\b"
        ),
        "{province_cap} hiện có {value} dịch vụ công trực tuyến{as_of}.",
    ),
)
KINDS_BY_KEY = {kind.key: kind for kind in FACT_KINDS}
_ABOUT_PROVINCE = re.compile(r"\b(?:tinh|thanh pho|dia phuong|cua minh|o day|ben minh)\b")


def clean_value(kind: FactKind, raw: str) -> str:
    value = raw.strip().removesuffix("%").strip()
    if not _NUMBER_RE.match(value):
        raise FactError(f"{kind.label}: '{raw}' không phải là một con số (ví dụ 1.245 hoặc 87,5)")
    if kind.percent and float(value.replace(".", "").replace(",", ".")) > 100:
        raise FactError(f"{kind.label}: tỷ lệ phải từ 0 đến 100")
    return value


def save(session: Session, actor: str, key: str, raw_value: str, as_of: str = "") -> ProvinceFact:
    kind = KINDS_BY_KEY.get(key)
    if kind is None:
        raise FactError(f"unknown fact {key!r}")
    value = clean_value(kind, raw_value)
    fact = session.get(ProvinceFact, key)
    if fact is None:
        fact = ProvinceFact(key=key, value=value, as_of=as_of.strip(), updated_by=actor)
        session.add(fact)
    else:
        fact.value, fact.as_of, fact.updated_by = value, as_of.strip(), actor
    session.add(
        AuditEntry(actor=actor, action="fact.save", target=key, detail=f"{value} {as_of}".strip())
    )
    session.flush()
    return fact


def clear(session: Session, actor: str, key: str) -> None:
    fact = session.get(ProvinceFact, key)
    if fact is not None:
        session.delete(fact)
        session.add(AuditEntry(actor=actor, action="fact.clear", target=key))


def stored(session: Session) -> dict[str, ProvinceFact]:
    facts = {f.key: f for f in session.scalars(select(ProvinceFact))}
    for fact in facts.values():
        session.expunge(fact)
    return facts


def asked_fact(question: str) -> FactKind | None:
    """The figure a question asks for, if it asks for one about the province itself."""
    folded = fold_accents(normalize_text(question))
    for kind in FACT_KINDS:
        if kind.pattern.search(folded) and (
            _ABOUT_PROVINCE.search(folded) or kind.key != "online_services"
        ):
            return kind
    return None


class FactBook:
    """Answers from the stored figures; re-read at most every few seconds so that every worker
    sees an admin's change quickly without a query per question."""

    def __init__(
        self, load: Callable[[], dict[str, ProvinceFact]], province: str, ttl_s: float = 5.0
    ) -> None:
        self._load, self._province, self._ttl_s = load, province, ttl_s
        self._facts: dict[str, ProvinceFact] = {}
        self._loaded_at = float("-inf")

    def answer(self, question: str) -> str | None:
        kind = asked_fact(question)
        if kind is None:
            return None
        if time.monotonic() - self._loaded_at > self._ttl_s:
            self._facts, self._loaded_at = self._load(), time.monotonic()
        fact = self._facts.get(kind.key)
        if fact is None:
            return None  # not entered yet: the question goes on to normal retrieval
        return kind.sentence.format(
            province=self._province,
            province_cap=self._province[:1].upper() + self._province[1:],
            value=f"{fact.value}%" if kind.percent else fact.value,
            as_of=f" (số liệu {fact.as_of})" if fact.as_of else "",
        )

    def forget(self) -> None:
        self._loaded_at = float("-inf")
