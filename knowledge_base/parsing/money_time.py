"""Parse time limits ("20 Ngày làm việc") and fees ("2,000,000 Việt Nam Đồng", "Miễn phí")."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from knowledge_base.text.normalize import fold_accents, normalize_text

_TIME_UNITS = {
    "ngay lam viec": "ngày làm việc",
    "ngay": "ngày",
    "gio lam viec": "giờ làm việc",
    "gio": "giờ",
    "phut": "phút",
    "tuan": "tuần",
    "thang": "tháng",
    "nam": "năm",
}
_UNIT_ALTERNATION = "|".join(sorted(_TIME_UNITS, key=len, reverse=True))
TIME_RE = re.compile(rf"(\d+(?:[.,]\d+)?)\s*({_UNIT_ALTERNATION})\b")
_MONEY_RE = re.compile(
    r"(\d{1,3}(?:[.,]\d{3})+|\d+)\s*(?:/\s*\w+\s*)?(?:viet nam dong|dong|vnd|vnđ|d\b)",
    re.IGNORECASE,
)
_FREE_RE = re.compile(r"\b(mien phi|khong thu phi|khong mat phi|khong phai nop)\b|^0 dong")


@dataclass(frozen=True)
class TimeLimit:
    value: Decimal
    unit: str | None


@dataclass(frozen=True)
class Fee:
    amount_vnd: int | None
    free: bool


_CLOCK_BEFORE_RE = re.compile(r"\b(?:sau|truoc|luc|tu|den|qua|trong gio)\s*$")
_SAME_DAY_RE = re.compile(
    r"^\s*(?:giai quyet\s+)?(?:ngay trong ngay|trong ngay|ngay khi|ngay sau khi)"
)


def parse_time_limit(text: str) -> TimeLimit | None:
    """The first number with a time unit ("sau 15 giờ" is a time of day, not a duration);
    "ngay trong ngày" is the same day (0 days); a bare number gives a value with no unit."""
    folded = fold_accents(normalize_text(text))
    if _SAME_DAY_RE.match(folded):
        return TimeLimit(Decimal(0), "ngày")
    for match in TIME_RE.finditer(folded):
        clock = match.group(2) == "gio" and _CLOCK_BEFORE_RE.search(folded[: match.start()])
        if not clock:
            return TimeLimit(Decimal(match.group(1).replace(",", ".")), _TIME_UNITS[match.group(2)])
    bare = re.fullmatch(r"\s*(\d+(?:[.,]\d+)?)\s*", folded)
    if bare:
        return TimeLimit(Decimal(bare.group(1).replace(",", ".")), None)
    return None


def parse_money(text: str) -> int | None:
    """The first amount of Vietnamese đồng in ``text`` ("2,000,000 Việt Nam Đồng" → 2000000)."""
    folded = fold_accents(normalize_text(text))
    match = _MONEY_RE.search(folded)
    if not match:
        # Amounts written "50.000/lần" without the currency word.
        match = re.search(r"(\d{1,3}(?:\.\d{3})+)(?=\s*(?:/|d|$))", folded)
        if not match:
            return None
    digits = re.sub(r"[.,]", "", match.group(1))
    return int(digits)


def parse_fee(text: str) -> Fee | None:
    """Fee amount and free flag; ``None`` when the text states nothing ("Không có thông tin")."""
    folded = fold_accents(normalize_text(text))
    if not folded or (folded.startswith("khong co thong tin") and not re.search(r"\d", folded)):
        return None
    amount = parse_money(text)
    if amount == 0:
        return Fee(amount_vnd=0, free=True)
    if amount is not None:
        return Fee(amount_vnd=amount, free=False)
    if re.search(r"\d\s*usd\b", folded):
        return Fee(amount_vnd=None, free=False)
    if _FREE_RE.search(folded) or re.match(r"^(khong|khong co)$", folded):
        return Fee(amount_vnd=None, free=True)
    return None
