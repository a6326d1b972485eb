"""Word error rate for Vietnamese transcripts (both sides NFC, lower case, no punctuation)."""

from __future__ import annotations

import re
import unicodedata

_PUNCTUATION_RE = re.compile(r"[^\w\s]")


def normalize_transcript(text: str) -> list[str]:
    text = unicodedata.normalize("NFC", text).lower()
    return _PUNCTUATION_RE.sub(" ", text).split()


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(substitutions + deletions + insertions, reference words): Levenshtein over words."""
    ref, hyp = normalize_transcript(reference), normalize_transcript(hypothesis)
    previous = list(range(len(hyp) + 1))
    for i, ref_word in enumerate(ref, start=1):
        current = [i]
        for j, hyp_word in enumerate(hyp, start=1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref_word != hyp_word))
            )
        previous = current
    return previous[-1], len(ref)
