"""What a turn means given where the conversation stands: a choice from the offered list, an
aspect question about the current procedure or the offered candidates, a change of action on the
same record (the sibling procedure), a correction, or a new question.

It reads questions and procedure names with the knowledge base's own object / action /
qualifier parser (``knowledge_base.understanding``), so a turn is compared with the procedures
the same way the ranking compares them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from knowledge_base.answer.aspect import Aspect, detect_aspect
from knowledge_base.text.normalize import fold_accents, normalize_text
from knowledge_base.understanding.frame import BASE_ACTIONS, Frame, parse_name, parse_question
from nlu.dialogue_state import DialogueState
from nlu.reading import chosen_option, is_bare_choice, is_follow_up, settles_variant

# "à không, ý tôi là …", "không phải, …", "nhầm, …" at the start of a turn (accent-free words)
_CORRECTION_RE = re.compile(
    r"^(?:(?:a|a ma|o|u|ua|xin loi)\s+)?"
    r"(?:khong phai(?: (?:vay|the|cai do|thu tuc do|cai nay))?|nham(?: roi)?|sai roi"
    r"|y (?:toi|em|minh|tui|chau|con|anh|chi|tao) (?:la|muon hoi|hoi)"
    r"|(?:toi|em|minh|tui) (?:hoi|noi) nham(?: roi)?|khong(?=\s*,))"
    r"\s*[,.!:;-]?\s*"
    r"(?:(?:toi|em|minh|tui) (?:muon )?(?:hoi|noi|can)(?: ve)?\s+)?"  # "…, tôi hỏi X"
)


# verbs that ask about any procedure when they come with an aspect ("ai giải quyết")
_ASPECT_VERBS = BASE_ACTIONS | {"giải quyết", "yêu cầu", "xác nhận", "thực hiện"}


class MoveKind(StrEnum):
    CHOOSE = "choose"  # one of the offered procedures, by number or by name
    ASPECT_OF_CANDIDATES = "aspect_of_candidates"  # "lệ phí?" while a list is open
    ASPECT_OF_CURRENT = "aspect_of_current"  # "lệ phí?" about the procedure answered last
    SIBLING = "sibling"  # same record, another action: "thế nếu bị mất thì sao?"
    SEARCH = "search"  # a question of its own (a new topic, or a correction naming one)


@dataclass(frozen=True)
class Move:
    kind: MoveKind
    question: str  # what to search or answer: the correction's marker is taken off
    code: str | None = None  # the chosen procedure
    corrected: bool = False
    # for a sibling: the records the conversation is about, and the procedures it is moving from
    objects: frozenset[str] = frozenset()
    leaving: tuple[str, ...] = ()
    said: str = ""  # for a sibling: the turn without the record added


def strip_correction(text: str) -> tuple[bool, str]:
    """(True, the rest) when the turn starts by taking back the last one."""
    written = normalize_text(text)
    folded = fold_accents(written)  # same length: every NFC letter folds to one letter
    match = _CORRECTION_RE.match(folded)
    if match is None or match.end() == 0:
        return False, text
    rest = written[match.end() :].strip(" ,.!:;-")
    again = _CORRECTION_RE.match(fold_accents(rest))  # "à không, ý tôi là …"
    return True, rest[again.end() :].strip(" ,.!:;-") if again else rest


def resolve(text: str, state: DialogueState, name_of: Callable[[str], str | None]) -> Move:
    """Decide what ``text`` means after ``state``; ``name_of`` gives a procedure's name."""
    corrected, rest = strip_correction(text)
    candidates = state.open_candidates()
    if candidates:
        picked = _picked(rest, candidates, name_of)
        if picked is not None:
            return Move(MoveKind.CHOOSE, rest, picked, corrected)
    on_list = state.candidates_are_newer()
    context = candidates if on_list else [state.procedure_code] if state.procedure_code else []
    if not context:
        return Move(MoveKind.SEARCH, rest, corrected=corrected)
    asked = parse_question(rest)
    frames = [parse_name(n) for n in (name_of(c) for c in context) if n]
    objects = frozenset(o for f in frames for o in f.objects)
    if asked.objects and not asked.objects & objects:
        return Move(MoveKind.SEARCH, rest, corrected=corrected)  # a new record: a new topic
    if _changes_action(asked, frames, detect_aspect(rest) is not Aspect.GENERAL):
        question = _with_object(rest, asked, frames)
        about = asked.objects or objects
        return Move(MoveKind.SIBLING, question, None, corrected, about, tuple(context), rest)
    if corrected and not asked.objects:
        return Move(MoveKind.SEARCH, rest, corrected=corrected)
    # "online được không", "ở cấp tỉnh thì sao": a channel or a level, about the same thing
    only_qualified = bool(asked.qualifiers) and not asked.objects and not asked.actions
    about_aspect = detect_aspect(rest) is not Aspect.GENERAL or is_follow_up(rest)
    if (about_aspect or only_qualified) and (asked.objects or asked.actions <= _ASPECT_VERBS):
        kind = MoveKind.ASPECT_OF_CANDIDATES if on_list else MoveKind.ASPECT_OF_CURRENT
        return Move(kind, rest, None if on_list else state.procedure_code, corrected)
    return Move(MoveKind.SEARCH, rest, corrected=corrected)


def _picked(text: str, candidates: list[str], name_of: Callable[[str], str | None]) -> str | None:
    if is_bare_choice(text, None):
        choice = chosen_option(text, None, len(candidates))
        return candidates[choice - 1] if choice is not None else None
    names = {c: n for c in candidates if (n := name_of(c))}
    matches = [
        code
        for code, name in names.items()
        if settles_variant(text, name, [n for c, n in names.items() if c != code])
    ]
    return matches[0] if len(matches) == 1 and len(names) > 1 else None


def _changes_action(asked: Frame, frames: list[Frame], asks_aspect: bool) -> bool:
    """An action cue ("bị mất", "hết hạn") that the context procedures do not all cover: a cue
    may mean several actions ("hết hạn": đổi, cấp đổi, gia hạn…), one of them the current.
    In an aspect question the plain verbs belong to the aspect ("cơ quan nào cấp", "thời hạn
    giải quyết"), not to another procedure."""
    current = frozenset(a for f in frames for a in f.actions)
    changed = asked.actions - current
    return bool(changed - _ASPECT_VERBS if asks_aspect else changed)


def _with_object(text: str, asked: Frame, frames: list[Frame]) -> str:
    """The turn with the context's record named, so the search finds its sibling."""
    if asked.objects:
        return text
    objects = sorted({o for f in frames for o in f.objects})
    return f"{text} {' '.join(objects)}" if objects else text
