"""The colloquial lexicon: how citizens say it → how the catalogue writes it.

``data/lexicon.tsv``: ``kind<TAB>official term<TAB>phrase|phrase|…``. Kinds: ``object`` (the
record or paper), ``action`` (what is done to it: cấp lại, gia hạn …), ``qualifier`` (a fixed
tag: foreign, child, online, province …) and ``phrase`` (a colloquial phrase whose official
wording is several words). Phrases match accent-folded and as whole words, so accent-free input
reads the same; the official term matches as one of its own phrases.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Literal, cast

from knowledge_base.text.normalize import fold_accents, normalize_text

Kind = Literal["object", "action", "qualifier", "phrase"]
KINDS: tuple[Kind, ...] = ("object", "action", "qualifier", "phrase")
QUALIFIER_TAGS = frozenset(
    [
        "foreign",
        "child",
        "online",
        "post",
        "province",
        "district",
        "commune",
        "central",
        "military",
        "company",
    ]
)
LEXICON_FILE = "lexicon.tsv"


class LexiconError(ValueError):
    """A malformed lexicon line; the message names the line."""


@dataclass(frozen=True)
class LexiconEntry:
    kind: Kind
    term: str  # official wording, normalised (a tag for qualifiers)
    phrases: tuple[str, ...]  # normalised, with accents as written


@dataclass(frozen=True)
class Match:
    entry: LexiconEntry
    start: int  # position in the folded text
    end: int


def fold(text: str) -> str:
    return fold_accents(normalize_text(text))


def parse_lexicon(text: str) -> list[LexiconEntry]:
    entries = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 3 or parts[0].strip() not in KINDS:
            raise LexiconError(f"line {number}: expected 'kind<TAB>term<TAB>phrases': {line!r}")
        kind = cast(Kind, parts[0].strip())
        term = normalize_text(parts[1])
        phrases = tuple(dict.fromkeys(normalize_text(p) for p in parts[2].split("|") if p.strip()))
        if not term or not phrases:
            raise LexiconError(f"line {number}: empty term or phrase list")
        if kind == "qualifier" and term not in QUALIFIER_TAGS:
            raise LexiconError(f"line {number}: unknown qualifier tag {term!r}")
        entries.append(LexiconEntry(kind, term, phrases))
    return entries


class Lexicon:
    """All entries of one kind are found by one longest-first, left-to-right scan of the folded
    text. A span the writer accented must match a phrase with those accents ("đổi" is not
    "đối"); a span typed without accents matches any phrase that folds to it."""

    def __init__(self, entries: list[LexiconEntry]) -> None:
        self.entries = entries
        self.digest = hashlib.sha256(repr(entries).encode()).hexdigest()
        self._scanners: dict[Kind, tuple[re.Pattern[str], dict[str, list[LexiconEntry]]]] = {}
        self._spellings: dict[str, set[str]] = {}
        for kind in KINDS:
            owners: dict[str, list[LexiconEntry]] = {}
            for entry in (e for e in entries if e.kind == kind):
                spoken = entry.phrases if kind == "qualifier" else (entry.term, *entry.phrases)
                for phrase in spoken:
                    key = fold(phrase)
                    owners.setdefault(key, []).append(entry)
                    self._spellings.setdefault(key, set()).add(" ".join(phrase.split()))
            alternatives = sorted(owners, key=len, reverse=True)
            body = "|".join(r"\s+".join(map(re.escape, a.split())) for a in alternatives)
            pattern = re.compile(rf"(?<![^\W_])(?:{body})(?![^\W_])" if body else r"(?!x)x")
            self._scanners[kind] = (pattern, owners)

    def find(self, text: str, kind: Kind) -> Iterator[Match]:
        """Matches in ``text`` (normalised); positions are the same in its folded form."""
        folded = fold_accents(text)
        aligned = len(folded) == len(text)
        pattern, owners = self._scanners[kind]
        for found in pattern.finditer(folded):
            key = " ".join(found.group(0).split())
            written = " ".join(text[found.start() : found.end()].split()) if aligned else key
            if written != key and written not in self._spellings[key]:
                continue  # accented differently: another word that folds the same
            for entry in owners.get(key, ()):
                yield Match(entry, found.start(), found.end())

    def of_kind(self, kind: Kind) -> list[LexiconEntry]:
        return [e for e in self.entries if e.kind == kind]


def load_lexicon(text: str | None = None) -> Lexicon:
    """The bundled lexicon, or ``text`` in the same format (the staff-edited one)."""
    if text is None:
        return bundled_lexicon()
    return Lexicon(parse_lexicon(text))


@lru_cache(maxsize=1)
def bundled_lexicon() -> Lexicon:
    raw = resources.files("knowledge_base.data").joinpath(LEXICON_FILE).read_text("utf-8")
    return Lexicon(parse_lexicon(raw))
