"""The curated synonym and abbreviation table (data file ``synonyms.tsv``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from knowledge_base.text.normalize import fold_accents, normalize_text


@dataclass(frozen=True)
class SynonymRule:
    canonical: str
    pattern: re.Pattern[str]


def _phrase_pattern(phrases: list[str]) -> re.Pattern[str]:
    alternatives = sorted({fold_accents(normalize_text(p)) for p in phrases}, key=len, reverse=True)
    body = "|".join(r"\s+".join(map(re.escape, alt.split())) for alt in alternatives)
    return re.compile(rf"(?<![^\W_])(?:{body})(?![^\W_])")


@lru_cache(maxsize=1)
def synonym_rules() -> tuple[SynonymRule, ...]:
    raw = resources.files("knowledge_base.data").joinpath("synonyms.tsv").read_text("utf-8")
    rules = []
    for line in raw.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        canonical, _, variants = line.partition("\t")
        phrases = [v for v in variants.split("|") if v.strip()]
        rules.append(SynonymRule(normalize_text(canonical), _phrase_pattern(phrases)))
    return tuple(rules)


def expand_synonyms(text: str) -> str:
    """Append the canonical phrase of every variant found in ``text`` (matched accent-free).

    Appending rather than replacing keeps the citizen's own words, which may also appear in the
    catalogue; the canonical phrase adds the official wording the catalogue uses.
    """
    folded = fold_accents(normalize_text(text))
    additions = [
        rule.canonical
        for rule in synonym_rules()
        if rule.pattern.search(folded) and fold_accents(rule.canonical) not in folded
    ]
    return f"{text} {' '.join(additions)}" if additions else text
