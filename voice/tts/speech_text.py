"""Written Vietnamese to what a voice should say: numbers, amounts, dates, times, percentages,
procedure and dossier codes, phone numbers, and the abbreviations of public administration."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class SpeechStyle:
    """How codes and phone numbers are read: the same words, with or without pauses."""

    grouped: bool = False  # a pause (comma) after each group of a code or a phone number


SPEECH_STYLES = {"plain": SpeechStyle(), "grouped": SpeechStyle(grouped=True)}
SPEECH_STYLES["default"] = DEFAULT_STYLE = SPEECH_STYLES["plain"]

DIGITS = ("không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín")
SCALES = ("", "nghìn", "triệu", "tỷ")
# the letters of a code as Vietnamese say them (espeak-ng reads a bare "H" as "hát" too)
LETTERS = {
    "A": "a", "B": "bê", "C": "xê", "D": "dê", "Đ": "đê", "E": "e", "F": "ép", "G": "giê",
    "H": "hát", "I": "i", "J": "gi", "K": "ca", "L": "e lờ", "M": "em mờ", "N": "en nờ",
    "O": "o", "P": "pê", "Q": "quy", "R": "e rờ", "S": "ét xì", "T": "tê", "U": "u",
    "V": "vê", "W": "vê kép", "X": "ích xì", "Y": "i dài", "Z": "dét",
}  # fmt: skip
_SEPARATORS = {".": "chấm", "-": "gạch"}
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
# 0905 123 456, 0236 3822 111, +84 905123456, 1900 0000: digit by digit, never a quantity
_PHONE_RE = re.compile(
    r"(?<![\w.,+])(?:(?:\+84[ .]?|0)\d(?:[ .]?\d){8,9}|1[89]00(?:[ .]?\d){4,6})(?!\w|[.,]\d)"
)
_PHONE_GROUPS = {8: (4, 4), 10: (4, 3, 3), 11: (4, 4, 3)}
_DATE_RE = re.compile(r"\b(?:(ngày)\s+)?(\d{1,2})/(\d{1,2})/(\d{4})\b", re.IGNORECASE)
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


def digits_words(text: str, grouped: bool = False) -> str:
    """Read a code character by character ("1.001193" → "một chấm không không một ...");
    ``grouped`` pauses after each separator."""
    spoken = []
    for ch in text:
        if ch.isdigit():
            spoken.append(DIGITS[int(ch)])
        elif ch in _SEPARATORS:
            spoken.append(_SEPARATORS[ch] + ("," if grouped else ""))
        elif ch.isalpha():
            spoken.append(LETTERS.get(ch.upper(), ch.upper()))
    return " ".join(spoken)


def phone_words(number: str, grouped: bool = False) -> str:
    """A phone number digit by digit, in its written groups or the usual ones (0905 123 456)."""
    number = re.sub(r"^\+84[ .]?", "0", number)
    groups = re.split(r"[ .]", number)
    digits = "".join(groups)
    if len(groups) == 1 and len(digits) in _PHONE_GROUPS:
        sizes, start, groups = _PHONE_GROUPS[len(digits)], 0, []
        for size in sizes:
            groups.append(digits[start : start + size])
            start += size
    joiner = ", " if grouped else " "
    return joiner.join(" ".join(DIGITS[int(d)] for d in group) for group in groups)


def _plain(number: str) -> int:
    return int(number.replace(".", ""))


def speech_text(text: str, style: SpeechStyle = DEFAULT_STYLE) -> str:
    """The text as it should be spoken; order matters (codes before plain numbers)."""
    grouped = style.grouped
    text = _DOSSIER_RE.sub(lambda m: digits_words(m.group(0), grouped), text)
    text = _PROCEDURE_CODE_RE.sub(lambda m: digits_words(m.group(0), grouped), text)
    text = _PHONE_RE.sub(lambda m: phone_words(m.group(0), grouped), text)
    text = _ABBREVIATION_RE.sub(lambda m: ABBREVIATIONS[m.group(1)], text)
    text = _DATE_RE.sub(
        lambda m: (
            f"{m.group(1) or 'ngày'} {number_words(int(m.group(2)))} tháng "
            f"{number_words(int(m.group(3)))} năm {number_words(int(m.group(4)))}"
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
