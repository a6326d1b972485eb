"""Reading the citizen's short replies inside a conversation: a follow-up about the same
procedure, a choice from the offered list, a rating."""

from __future__ import annotations

import re

from knowledge_base.text.normalize import fold_accents, has_accents, normalize_text
from knowledge_base.text.tokens import content_syllables

# Phrases that ask about "the same procedure" rather than name a new one (accent-free).
_FOLLOW_UP_RE = re.compile(
    r"\b(?:con|vay|the|thi sao|the nao|ra sao|le phi|phi|bao nhieu( tien)?|het|mat|tien|"
    r"bao lau|may ngay|thoi han|thoi gian|nop|online|truc tuyen|truc tiep|buu dien|buu chinh|"
    r"qua mang|o dau|noi nao|lam o|co quan nao|(ai )?giai quyet|xu ly|giay to( gi)?|ho so gom|"
    r"can (mang|gi|nhung gi)|mang theo|nhung gi|cac buoc|trinh tu|dieu kien|ket qua|"
    r"can cu|phap ly|re hon|nhanh hon|duoc khong|khong|roi|a|nhe|lam|gi)\b"
)
_ORDINALS = {"nhat": 1, "dau": 1, "mot": 1, "hai": 2, "ba": 3, "bon": 4, "tu": 4, "nam": 5}
# An ordinal word counts after a word that points into a list ("cái thứ hai", "số một") or as
# "đầu tiên" / "cuối": a bare "đầu" would read "ở đâu" (where) as "the first" once folded.
_ORDINAL_RE = re.compile(
    r"\b(?:cai|so|thu|phuong an|lua chon|thu tuc|chon|muc|loai)\s+(?:thu\s+|so\s+)?"
    rf"({'|'.join(_ORDINALS)})\b|\b(dau tien)\b|\b(cuoi(?: cung)?)\b"
)
# words that make a message a complaint or a suggestion rather than a question (accent-free)
FEEDBACK_CUES = (
    r"phan anh|gop y|kien nghi|khieu nai|to cao|than phien|buc xuc|thai do|nhung nhieu"
    r"|thu them tien|cham tre|tre hen|tre han|khong hai long|vo trach nhiem|gay kho de"
)
_FEEDBACK_RE = re.compile(rf"\b(?:{FEEDBACK_CUES})\b")
# asking for a person rather than the assistant (accent-free)
_PERSON_RE = re.compile(
    r"\b(?:gap|noi chuyen voi|chuyen (?:may )?(?:cho|sang|toi)|ket noi (?:toi |em )?voi|can|goi)"
    r" (?:nhan vien|nguoi that|tong dai vien|can bo|tu van vien|nguoi tu van)\b"
    r"|\b(?:tong dai vien|nguoi that|tu van vien)\b"
)
_RATING_WORDS = [
    ("rat khong hai long", 1),
    ("khong hai long", 2),
    ("binh thuong", 3),
    ("tam duoc", 3),
    ("rat hai long", 5),
    ("hai long", 4),
]


def is_follow_up(text: str) -> bool:
    """True when the question names no procedure of its own ("còn lệ phí thì sao?")."""
    rest = _FOLLOW_UP_RE.sub(" ", fold_accents(normalize_text(text)))
    return len(content_syllables(rest)) <= 1


def settles_variant(question: str, chosen: str, variants: list[str]) -> bool:
    """True when the question names what sets ``chosen`` apart from each variant ("cấp tỉnh")."""
    asked = content_syllables(question)
    mine = content_syllables(chosen)
    return all(bool((mine - content_syllables(v)) & asked) for v in variants)


def chosen_option(text: str, entity: str | None, count: int) -> int | None:
    """1-based choice from "số 2", "cái thứ hai", "2", or a button's entity."""
    raw = entity or text
    digits = re.findall(r"\d+", raw)
    if digits:
        value = int(digits[0])
    else:
        written = normalize_text(raw)
        match = _ORDINAL_RE.search(fold_accents(written))
        word, first, last = match.groups() if match else (None, None, None)
        if last and has_accents(written) and "cuối" not in written:
            last = None  # "kể chuyện cười": "cười" folds like "cuối"
        value = _ORDINALS[word] if word else 1 if first else count if last else 0
    return value if 1 <= value <= count else None


def is_bare_choice(text: str, entity: str | None) -> bool:
    """Only a pick from a list ("số 2", "cái thứ hai", a button), nothing else to search for."""
    if entity:
        return True
    words = normalize_text(text).split()
    return 0 < len(words) <= 4 and chosen_option(text, None, count=99) is not None


def rating_of(text: str, entity: str | None) -> int | None:
    digits = re.findall(r"(?<!\d)[1-5](?!\d)", entity or text)  # not the 1 of "14 tuổi"
    if digits:
        return int(digits[0])
    folded = fold_accents(normalize_text(text))
    return next((score for phrase, score in _RATING_WORDS if phrase in folded), None)


def reads_as_feedback(text: str) -> bool:
    """A complaint or a suggestion ("phản ánh cán bộ trả hồ sơ trễ hẹn"), not a question."""
    return _FEEDBACK_RE.search(fold_accents(normalize_text(text))) is not None


def asks_for_person(text: str) -> bool:
    """ "Cho tôi gặp nhân viên": a person, not the assistant."""
    return text.strip() == "/handoff" or bool(_PERSON_RE.search(fold_accents(normalize_text(text))))
