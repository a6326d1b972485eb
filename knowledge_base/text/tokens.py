"""Lexical tokens for BM25: folded syllables, folded syllable bigrams and segmented words."""

from __future__ import annotations

import itertools
import re

from pyvi import ViTokenizer

from knowledge_base.text.normalize import fold_accents, has_accents, syllables

STOP_SYLLABLES = frozenset(
    [
        "toi",
        "em",
        "minh",
        "chau",
        "ban",
        "a",
        "u",
        "o",
        "thi",
        "la",
        "ma",
        "va",
        "voi",
        "cua",
        "cho",
        "de",
        "duoc",
        "co",
        "khong",
        "gi",
        "nao",
        "the",
        "sao",
        "nhu",
        "nhung",
        "cac",
        "mot",
        "hay",
        "hoac",
        "neu",
        "khi",
        "tai",
        "trong",
        "ve",
        "da",
        "dang",
        "se",
        "can",
        "phai",
        "muon",
        "hoi",
        "xin",
    ]
)


def lexical_tokens(text: str) -> list[str]:
    """Tokens that match whether or not the text carries accents.

    Bigrams of folded syllables stand in for Vietnamese compound words ("khai_sinh") and work
    on accent-free input; words of three or more syllables found by the pyvi segmenter on
    accented text are added as well.
    """
    words = syllables(text)
    folded = [fold_accents(w) for w in words]
    tokens = [w for w in folded if w not in STOP_SYLLABLES]
    tokens += [f"{a}_{b}" for a, b in itertools.pairwise(folded)]
    if words and has_accents(" ".join(words)):
        for word in ViTokenizer.tokenize(" ".join(words)).split():
            if word.count("_") >= 2:
                tokens.append(fold_accents(word))
    return tokens


_LEADING_THU_TUC_RE = re.compile(r"^\s*thu tuc\s+")


def folded_syllables(text: str) -> list[str]:
    """Accent-folded syllables in order, without a leading generic "thủ tục"."""
    folded = " ".join(fold_accents(s) for s in syllables(text))
    return _LEADING_THU_TUC_RE.sub("", folded).split()


def content_syllables(text: str) -> set[str]:
    return {w for w in (fold_accents(s) for s in syllables(text)) if w not in STOP_SYLLABLES}
