"""Unicode and spoken-language clean-up for Vietnamese questions and catalogue text."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from importlib import resources

_WORD_RE = re.compile(r"[^\W_]+", re.UNICODE)
_SPACE_RE = re.compile(r"\s+")
# Old-style tone placement (òa, óa, úy …) is normalised to the modern one so both spellings
# of "hoà/hòa", "thuỷ/thủy" give the same token.
_TONE_PLACEMENT = {
    "òa": "oà", "óa": "oá", "ỏa": "oả", "õa": "oã", "ọa": "oạ",
    "òe": "oè", "óe": "oé", "ỏe": "oẻ", "õe": "oẽ", "ọe": "oẹ",
    "ùy": "uỳ", "úy": "uý", "ủy": "uỷ", "ũy": "uỹ", "ụy": "uỵ",
}  # fmt: skip
_TONE_RE = re.compile("|".join(_TONE_PLACEMENT))


def normalize_text(text: str) -> str:
    """NFC, lower case, unified tone placement, collapsed whitespace."""
    text = unicodedata.normalize("NFC", text).lower()
    text = _TONE_RE.sub(lambda m: _TONE_PLACEMENT[m.group(0)], text)
    return _SPACE_RE.sub(" ", text).strip()


@lru_cache(maxsize=4096)
def _fold_syllable(syllable: str) -> str:
    decomposed = unicodedata.normalize("NFD", syllable.replace("đ", "d").replace("Đ", "D"))
    return "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")


def fold_accents(text: str) -> str:
    """Remove Vietnamese diacritics, including đ → d ("Đăng ký" → "dang ky")."""
    return " ".join(_fold_syllable(part) for part in text.split(" "))


def syllables(text: str) -> list[str]:
    """Normalised syllables (Vietnamese words are written as space-separated syllables)."""
    return _WORD_RE.findall(normalize_text(text))


def has_accents(text: str) -> bool:
    return fold_accents(text) != text


@lru_cache(maxsize=1)
def _filler_patterns() -> tuple[re.Pattern[str], ...]:
    raw = resources.files("knowledge_base.data").joinpath("fillers.txt").read_text("utf-8")
    phrases = [
        normalize_text(line) for line in raw.splitlines() if line and not line.startswith("#")
    ]
    # Longest first so "cho tôi hỏi là" wins over "cho tôi hỏi".
    phrases.sort(key=len, reverse=True)
    patterns = []
    for phrase in phrases:
        escaped = r"\s+".join(re.escape(word) for word in phrase.split())
        patterns.append(re.compile(rf"(?<![^\W_]){escaped}(?![^\W_])[\s,.!?…]*"))
        folded = r"\s+".join(re.escape(word) for word in fold_accents(phrase).split())
        if folded != escaped:
            patterns.append(re.compile(rf"(?<![^\W_]){folded}(?![^\W_])[\s,.!?…]*"))
    return tuple(patterns)


def strip_fillers(text: str) -> str:
    """Drop spoken fillers ("alo", "ờ", "cho tôi hỏi", "à em muốn hỏi là") from a normalised text.

    Only leading fillers and free-standing hesitation sounds are removed, so content words that
    merely contain a filler ("hỏi" in "hỏi đáp") survive.
    """
    text = normalize_text(text)
    changed = True
    while changed:
        changed = False
        for pattern in _filler_patterns():
            match = pattern.match(text)
            if match and match.end() < len(text):
                text = text[match.end() :].lstrip(" ,.")
                changed = True
    return text
