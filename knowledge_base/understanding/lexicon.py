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
from collections.abc import Iterable, Iterator, Sequence
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
MAX_PHRASES = 60
MAX_PHRASE_CHARS = 120


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


def staff_entry(kind: str, term: str, phrases: Sequence[str]) -> LexiconEntry:
    """An entry as staff typed it, checked like a line of the bundled file; the messages are
    for staff (Vietnamese)."""
    if kind not in KINDS:
        raise LexiconError(f"Loại mục không hợp lệ: {kind!r}.")
    cleaned = normalize_text(term)
    spoken = tuple(dict.fromkeys(normalize_text(p) for p in phrases if p.strip()))
    if not cleaned or not spoken:
        raise LexiconError("Cần cách viết chính thức và ít nhất một cách nói của người dân.")
    if len(spoken) > MAX_PHRASES or any(len(p) > MAX_PHRASE_CHARS for p in (cleaned, *spoken)):
        raise LexiconError(
            f"Tối đa {MAX_PHRASES} cách nói, mỗi cách nói tối đa {MAX_PHRASE_CHARS} ký tự."
        )
    if kind == "qualifier" and cleaned not in QUALIFIER_TAGS:
        raise LexiconError(
            f"Nhãn phân loại phải là một trong: {', '.join(sorted(QUALIFIER_TAGS))}."
        )
    if any(len(fold(p)) < 2 for p in spoken):
        raise LexiconError("Cách nói quá ngắn (ít nhất 2 chữ cái).")
    return LexiconEntry(kind, cleaned, spoken)


def reaches_catalogue(entry: LexiconEntry, names: Iterable[str]) -> bool:
    """Whether the entry's official wording occurs, as whole words, in a procedure name (a
    qualifier is a tag, not wording)."""
    if entry.kind == "qualifier":
        return True
    probe = Lexicon([LexiconEntry(entry.kind, entry.term, (entry.term,))])
    return any(next(probe.find(normalize_text(n), entry.kind), None) for n in names)


def with_staff_entries(base: Lexicon, changes: Iterable[tuple[LexiconEntry, bool]]) -> Lexicon:
    """``base`` with staff changes applied: an entry replaces the base entry of the same kind
    and term; an inactive one only removes it."""
    changed = list(changes)
    replaced = {(e.kind, e.term) for e, _ in changed}
    kept = [e for e in base.entries if (e.kind, e.term) not in replaced]
    return Lexicon([*kept, *(e for e, active in changed if active)])


_active: Lexicon | None = None


def use_lexicon(lexicon: Lexicon) -> None:
    """Make ``lexicon`` (the bundled one with the published staff entries) the one questions
    and names are read with in this process."""
    global _active
    _active = lexicon


def active_lexicon() -> Lexicon:
    return _active or bundled_lexicon()


def load_lexicon(text: str | None = None) -> Lexicon:
    """The bundled lexicon, or ``text`` in the same format (the staff-edited one)."""
    if text is None:
        return bundled_lexicon()
    return Lexicon(parse_lexicon(text))


@lru_cache(maxsize=1)
def bundled_lexicon() -> Lexicon:
    raw = resources.files("knowledge_base.data").joinpath(LEXICON_FILE).read_text("utf-8")
    return Lexicon(parse_lexicon(raw))
