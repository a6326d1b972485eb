"""Personal data in free text, masked before it is stored, logged or sent to the dialogue
engine: phone numbers, ID numbers (CCCD 12 digits, CMND 9, and other long digit runs such as
tax codes or bank accounts), e-mail addresses and dossier codes.

What staff need survives the mask: the last four digits of a number (the dossier look-up's
second factor, which the dossier table keeps anyway), the first letter and the domain of an
e-mail address, the province part and sequence number of a dossier code::

    0912 345 678                -> ******5678
    079203001234                -> ********1234
    nguyenvana@gmail.com        -> n***@gmail.com
    000.00.12.H55-240101-0001   -> ***.**.**.H55-******-0001

Masking is idempotent (a masked text has nothing left to mask). Amounts ("50.000 đồng",
"150000000 đồng"), years, dates, times, procedure codes and the 1900 hotline stay as typed.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass


class Kind(enum.StrEnum):
    DOSSIER = "dossier"
    EMAIL = "email"
    PHONE = "phone"
    ID_NUMBER = "id_number"


KEPT_DIGITS = 4
_SEP = r"[\s.\-]"
_NOT_MONEY = r"(?!\s*(?:đồng|đ(?!\w)|vnđ|vnd|₫|triệu|tỷ|nghìn|ngàn))"
# A number stands alone: not glued to letters, not part of a dotted or decimal number.
_ALONE_BEFORE = r"(?<![\w.,+])"
_ALONE_AFTER = r"(?!\w|[.,]\d)"
_PATTERNS = {
    # 7 digits, the province letter, 12 digits; spaces, dots or dashes anywhere, as
    # nlu.dossiers.normalize_dossier_code accepts them.
    Kind.DOSSIER: rf"(?<![\w.])\d(?:{_SEP}{{0,3}}\d){{6}}{_SEP}{{0,3}}[A-Za-z](?:{_SEP}{{0,3}}\d){{12}}(?!\d)",
    Kind.EMAIL: r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+",
    # 0 and 9 digits (mobile) or 10 (landline 02x), or the country code 84 and 9 digits.
    Kind.PHONE: rf"{_ALONE_BEFORE}(?:\+84|84|0)(?:{_SEP}?\d){{9,10}}{_ALONE_AFTER}",
    Kind.ID_NUMBER: (
        rf"{_ALONE_BEFORE}(?:\d{{9,20}}|\d{{3}}(?: \d{{3}}){{2,3}}){_ALONE_AFTER}{_NOT_MONEY}"
    ),
}
_ANY_RE = re.compile(
    "|".join(f"(?P<{kind.value}>{pattern})" for kind, pattern in _PATTERNS.items()),
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Finding:
    kind: Kind
    raw: str  # as written
    value: str  # canonical: the dossier code, a number's digits, the lower-case address
    masked: str


@dataclass(frozen=True)
class Masked:
    text: str
    findings: tuple[Finding, ...]

    @property
    def values(self) -> set[str]:
        return {f.value for f in self.findings}


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _stars(digits: str) -> str:
    return "*" * max(len(digits) - KEPT_DIGITS, 0) + digits[-KEPT_DIGITS:]


def dossier_code_of(raw: str) -> str:
    """``000 00 12 h55 240101 0001`` → ``000.00.12.H55-240101-0001`` (a matched code)."""
    c = re.sub(r"[^0-9A-Za-z]", "", raw).upper()
    return f"{c[0:3]}.{c[3:5]}.{c[5:7]}.{c[7:10]}-{c[10:16]}-{c[16:20]}"


def masked_dossier_code(code: str) -> str:
    """The province part and the sequence number of a canonical code."""
    return f"***.**.**.{code[10:13]}-******-{code[-4:]}"


def _finding(kind: Kind, raw: str) -> Finding:
    if kind is Kind.DOSSIER:
        code = dossier_code_of(raw)
        return Finding(kind, raw, code, masked_dossier_code(code))
    if kind is Kind.EMAIL:
        local, _, domain = raw.partition("@")
        return Finding(kind, raw, raw.lower(), f"{local[0]}***@{domain}")
    digits = _digits(raw)
    if kind is Kind.PHONE and digits.startswith("84") and len(digits) == 11:
        digits = "0" + digits[2:]  # +84 912 345 678 and 0912 345 678 are one number
    return Finding(kind, raw, digits, _stars(digits))


def _apply(text: str, keep: Callable[[Finding], bool]) -> Masked:
    findings: list[Finding] = []

    def replace(match: re.Match[str]) -> str:
        assert match.lastgroup is not None
        found = _finding(Kind(match.lastgroup), match.group(0))
        if not keep(found):
            return found.raw
        findings.append(found)
        return found.masked

    return Masked(_ANY_RE.sub(replace, text), tuple(findings))


def mask(text: str) -> Masked:
    """Everything personal in the text masked; the findings keep the raw values."""
    return _apply(text, lambda _found: True)


def mask_text(text: str) -> str:
    return mask(text).text


def mask_reply(text: str, citizen_values: Collection[str]) -> str:
    """A bot or staff reply as stored: dossier codes and ID numbers always masked, phone
    numbers and e-mail addresses only when they are the citizen's own (``Finding.value`` of
    what the citizen wrote), because a reply may give an office's public number."""
    always = {Kind.DOSSIER, Kind.ID_NUMBER}
    return _apply(text, lambda f: f.kind in always or f.value in citizen_values).text
