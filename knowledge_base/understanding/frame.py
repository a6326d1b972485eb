"""Parse a question, or a procedure name, into object / action / qualifiers.

Questions and names go through the same reading so they can be compared: a question about a lost
licence parses to (giấy phép lái xe, cấp lại), and so does "Cấp lại giấy phép lái xe".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from knowledge_base.text.normalize import normalize_text
from knowledge_base.understanding.lexicon import Lexicon, active_lexicon, fold

EMPTY: frozenset[str] = frozenset()
BASE_ACTIONS = frozenset(["cấp", "đăng ký", "cấp mới"])  # what a question without a cue means
ADULT_CARD_AGE = 14  # the age at which the catalogue's procedures stop treating one as a child
_AGE_RE = re.compile(r"(?<![\d.,])(\d{1,2})\s*tuoi\b")


@dataclass(frozen=True)
class Frame:
    objects: frozenset[str]
    actions: frozenset[str]
    qualifiers: frozenset[str]
    official: tuple[str, ...]  # the official wording of what was recognised, for search

    @property
    def is_empty(self) -> bool:
        return not (self.objects or self.actions)


def _blank(text: str, spans: list[tuple[int, int]]) -> str:
    chars = list(text)
    for start, end in spans:
        chars[start:end] = " " * (end - start)
    return "".join(chars)


def _read(text: str, lexicon: Lexicon, leading_actions_only: bool) -> Frame:
    written = normalize_text(text)
    phrases = [m.entry.term for m in lexicon.find(written, "phrase")]
    scan = " ".join([written, *phrases])
    qualifier_matches = list(lexicon.find(written, "qualifier"))
    object_matches = list(lexicon.find(scan, "object"))
    # "cấp" in "cấp tỉnh" is a level, not an action
    action_text = _blank(scan, [(m.start, m.end) for m in qualifier_matches])
    action_matches = list(lexicon.find(action_text, "action"))
    if leading_actions_only:
        own = [m for m in object_matches if m.start < len(written)]
        first_object = min((m.start for m in own), default=len(written))
        limit = first_object if own else min(len(written), 30)
        action_matches = [m for m in action_matches if m.start <= limit]
    objects = frozenset(m.entry.term for m in object_matches)
    actions = frozenset(m.entry.term for m in action_matches)
    folded = fold(written)
    official = tuple(
        dict.fromkeys(
            t for t in [*phrases, *sorted(objects), *sorted(actions)] if fold(t) not in folded
        )
    )
    qualifiers = {m.entry.term for m in qualifier_matches}
    if any(int(age) < ADULT_CARD_AGE for age in _AGE_RE.findall(folded)):
        qualifiers.add("child")  # "con em 8 tuổi": the under-14 procedures
    return Frame(objects, actions, frozenset(qualifiers), official)


def parse_question(text: str, lexicon: Lexicon | None = None) -> Frame:
    return _read(text, lexicon or active_lexicon(), leading_actions_only=False)


def parse_name(name: str, lexicon: Lexicon | None = None) -> Frame:
    """A procedure name: its action is the verb it starts with, before the object."""
    return _read(name, lexicon or active_lexicon(), leading_actions_only=True)


def expand(text: str, frame: Frame) -> str:
    """The question with the official wording of what it said appended (the citizen's own words
    stay: the catalogue may use them too)."""
    return f"{text} {' '.join(frame.official)}" if frame.official else text
