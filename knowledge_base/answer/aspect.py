"""Which part of a procedure the citizen asks about."""

from __future__ import annotations

import re
from enum import StrEnum

from knowledge_base.text.normalize import fold_accents, normalize_text


class Aspect(StrEnum):
    DOCUMENTS = "documents"
    FEE = "fee"
    TIME = "time"
    AGENCY = "agency"
    CHANNEL = "channel"
    STEPS = "steps"
    LEGAL_BASIS = "legal_basis"
    CONDITIONS = "conditions"
    RESULT = "result"
    GENERAL = "general"


# Checked in order; patterns are matched on accent-free text so both spellings work.
_PATTERNS: list[tuple[Aspect, str]] = [
    (Aspect.FEE, r"le phi|\bphi\b|bao nhieu tien|mat tien|ton tien|chi phi|mien phi|het bao nhieu"),
    (Aspect.TIME, r"bao lau|may ngay|bao nhieu ngay|thoi han|thoi gian|khi nao co|mat may|bao gio"),
    (Aspect.LEGAL_BASIS, r"can cu|phap ly|luat nao|nghi dinh|thong tu|van ban nao|quy dinh o dau"),
    (
        Aspect.CHANNEL,
        r"online|truc tuyen|qua mang|tren mang|nop mang|qua internet|qua app|vneid|buu dien"
        r"|buu chinh|nop .*cach nao|hinh thuc nop",
    ),
    (
        Aspect.DOCUMENTS,
        r"giay to|ho so gom|thanh phan|can mang|mang theo|chuan bi|can nhung gi|can gi",
    ),
    (Aspect.AGENCY, r"o dau|noi nao|co quan nao|den dau|nop tai|lam tai|tham quyen|ai giai quyet"),
    (Aspect.CONDITIONS, r"dieu kien|yeu cau|duoc phep khong|ai duoc"),
    (Aspect.STEPS, r"trinh tu|cac buoc|quy trinh|lam the nao|nhu the nao|thu tuc ra sao|cach lam"),
    (Aspect.RESULT, r"ket qua|nhan duoc gi|duoc cap gi"),
]
# Whole words only: "can cu" (căn cứ) must not fire inside "can cuoc" (căn cước).
_COMPILED = [(aspect, re.compile(rf"\b(?:{pattern})\b")) for aspect, pattern in _PATTERNS]


def detect_aspect(question: str) -> Aspect:
    folded = fold_accents(normalize_text(question))
    for aspect, pattern in _COMPILED:
        if pattern.search(folded):
            return aspect
    return Aspect.GENERAL
