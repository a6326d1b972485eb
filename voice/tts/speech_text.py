"""Written Vietnamese to what a voice should say: numbers, amounts, dates, times, percentages,
procedure and dossier codes, and the abbreviations of public administration."""

from __future__ import annotations

import re

DIGITS = ("không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín")
SCALES = ("", "nghìn", "triệu", "tỷ")
ABBREVIATIONS = {
    "CCCD": "căn cước công dân",
    "CMND": "chứng minh nhân dân",
    "UBND": "ủy ban nhân dân",
    "HĐND": "hội đồng nhân dân",
    "TTHC": "thủ tục hành chính",
    "DVC": "dịch vụ công",
    "GPLX": "giấy phép lái xe",
    "BHXH": "bảo hiểm xã hội",
    "BHYT": "bảo hiểm y tế",
    "GCN": "giấy chứng nhận",
    "QSDĐ": "quyền sử dụng đất",
    "CSDL": "cơ sở dữ liệu",
    "VNeID": "vê en e ai đi",
    "TP.": "thành phố",
    "Tp.": "thành phố",
    "TX.": "thị xã",
    "P.": "phường",
    "Q.": "quận",
}
_ABBREVIATION_RE = re.compile(
    r"(?<![\w.])("
    + "|".join(re.escape(a) for a in sorted(ABBREVIATIONS, key=len, reverse=True))
    + r")(?!\w)"
)
_DOSSIER_RE = re.compile(r"\b\d{3}\.\d{2}\.\d{2}\.[A-Z]\d{2}-\d{6}-\d{4}\b")
_PROCEDURE_CODE_RE = re.compile(r"\b\d\.\d{6}(?:\.\d{3}\.\d{2}\.\d{2}\.[A-Z]\d{2})?\b")
_DATE_RE = re.compile(r"\b(\d{1,2})/(\d{1,2})/(\d{4})\b")
_TIME_RE = re.compile(r"\b(\d{1,2})\s*(?:h|giờ)\s*(\d{2})?\b")
_AMOUNT_RE = re.compile(r"\b(\d{1,3}(?:\.\d{3})+|\d+)\s*(?:đồng|đ|VNĐ|VND)(?!\w)", re.IGNORECASE)
_PERCENT_RE = re.compile(r"\b(\d+)(?:,(\d+))?\s*%")
_GROUPED_RE = re.compile(r"\b\d{1,3}(?:\.\d{3})+\b")
_DECIMAL_RE = re.compile(r"\b(\d+),(\d+)\b")
_NUMBER_RE = re.compile(r"\b\d+\b")


def _below_thousand(n: int, full: bool) -> list[str]:
    """0–999; ``full`` reads a group inside a larger number ("không trăm linh năm")."""
    hundreds, rest = divmod(n, 100)
    tens, units = divmod(rest, 10)
    words: list[str] = []
    if hundreds or full:
        words += [DIGITS[hundreds], "trăm"]
    if tens == 0:
        if units and words:
            words.append("linh")
        if units:
            words.append(DIGITS[units])
        return words
    words += ["mười"] if tens == 1 else [DIGITS[tens], "mươi"]
    if units == 1:
        words.append("một" if tens == 1 else "mốt")
    elif units == 5:
        words.append("lăm")
    elif units == 4 and tens > 1:
        words.append("tư")
    elif units:
        words.append(DIGITS[units])
    return words


def number_words(n: int) -> str:
    if n == 0:
        return "không"
    if n < 0:
        return "âm " + number_words(-n)
    if n >= 10**12:
        return " ".join(DIGITS[int(d)] for d in str(n))
    groups: list[int] = []
    while n:
        n, group = divmod(n, 1000)
        groups.append(group)
    words: list[str] = []
    for index in range(len(groups) - 1, -1, -1):
        group = groups[index]
        if group == 0:
            continue
        words += _below_thousand(group, full=bool(words))
        words.append(SCALES[index])
    return " ".join(w for w in words if w)


def digits_words(text: str) -> str:
    """Read a code character by character ("1.001193" → "một chấm không không một ...")."""
    spoken = []
    for ch in text:
        if ch.isdigit():
            spoken.append(DIGITS[int(ch)])
        elif ch == ".":
            spoken.append("chấm")
        elif ch == "-":
            spoken.append("gạch")
        elif ch.isalpha():
            spoken.append(ch.upper())
    return " ".join(spoken)


def _plain(number: str) -> int:
    return int(number.replace(".", ""))


def speech_text(text: str) -> str:
    """The text as it should be spoken; order matters (codes before plain numbers)."""
    text = _DOSSIER_RE.sub(lambda m: "mã " + digits_words(m.group(0)), text)
    text = _PROCEDURE_CODE_RE.sub(lambda m: digits_words(m.group(0)), text)
    text = _ABBREVIATION_RE.sub(lambda m: ABBREVIATIONS[m.group(1)], text)
    text = _DATE_RE.sub(
        lambda m: (
            f"ngày {number_words(int(m.group(1)))} tháng {number_words(int(m.group(2)))} "
            f"năm {number_words(int(m.group(3)))}"
        ),
        text,
    )
    text = _TIME_RE.sub(
        lambda m: (
            f"{number_words(int(m.group(1)))} giờ"
            + (f" {number_words(int(m.group(2)))}" if m.group(2) and int(m.group(2)) else "")
        ),
        text,
    )
    text = _AMOUNT_RE.sub(lambda m: f"{number_words(_plain(m.group(1)))} đồng", text)
    text = _PERCENT_RE.sub(
        lambda m: (
            number_words(int(m.group(1)))
            + (f" phẩy {digits_words(m.group(2))}" if m.group(2) else "")
            + " phần trăm"
        ),
        text,
    )
    text = _GROUPED_RE.sub(lambda m: number_words(_plain(m.group(0))), text)
    text = _DECIMAL_RE.sub(
        lambda m: f"{number_words(int(m.group(1)))} phẩy {digits_words(m.group(2))}", text
    )
    text = _NUMBER_RE.sub(lambda m: number_words(int(m.group(0))), text)
    return re.sub(r"\s+", " ", text).strip()
