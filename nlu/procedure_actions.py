"""The actions that answer about procedures: a question, a follow-up, a choice from the offered
list, a refusal. What a turn means is decided by ``nlu.follow_up`` from the stored state."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from knowledge_base.answer.aspect import Aspect, detect_aspect
from knowledge_base.answer.compose import ASPECT_LABELS, aspect_line, near_variants
from knowledge_base.answer.results import ProcedureHit
from knowledge_base.service import KnowledgeBase
from knowledge_base.text.normalize import fold_accents
from knowledge_base.text.tokens import content_syllables
from knowledge_base.understanding.frame import Frame, parse_name, parse_question
from nlu.action_turn import HANDOFF_BUTTON, REFUSAL_KINDS, ActionResult, ReplyKind, Turn
from nlu.follow_up import Move, MoveKind, resolve
from nlu.reading import chosen_option, is_bare_choice, settles_variant

_NO_LIST = (
    "Hiện không có danh sách nào đang chờ chọn ạ. Anh/chị cho biết tên thủ tục hoặc việc cần làm "
    "(ví dụ: «làm hộ chiếu cần giấy tờ gì») để tổng đài hỗ trợ."
)
_CHOICE_OUT_OF_RANGE = "Danh sách chỉ có {n} mục, anh/chị vui lòng chọn từ 1 đến {n} ạ."
# "còn đăng ký kết hôn thì sao?": the same aspect as the last answer, about another procedure
_SAME_QUESTION_RE = re.compile(r"^(?:the )?con\b.*\b(?:thi sao|the nao|ra sao|nua)\b")
# refusals the knowledge base decides better than the classifier's "out of scope"
_KB_REFUSALS = ("figure_missing", "not_understood", "not_in_province")


class ProcedureActions:
    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb

    def _name(self, code: str) -> str | None:
        procedure = self.kb.procedure(code)
        return procedure.name if procedure is not None else None

    def answer(self, turn: Turn, result: ActionResult) -> None:
        move = resolve(turn.text, turn.state, self._name)
        if move.kind is MoveKind.CHOOSE and move.code:
            self.answer_choice(turn, result, move.code, move.question)
        elif is_bare_choice(turn.text, turn.entities.get("option")):
            self.choose_option(turn, result)  # "số 5": no such option, or no list open
        elif move.kind is MoveKind.ASPECT_OF_CANDIDATES:
            self._aspect_of_candidates(turn, result, move.question)
        elif move.kind is MoveKind.ASPECT_OF_CURRENT and move.code:
            self._say_answer(turn, result, move.code, move.question)
        elif move.kind is MoveKind.SIBLING:
            self._sibling(turn, result, move)
        else:
            self._search(turn, result, move)

    def choose_option(self, turn: Turn, result: ActionResult) -> None:
        candidates = turn.state.open_candidates()
        choice = chosen_option(turn.text, turn.entities.get("option"), len(candidates))
        if choice is not None:
            self.answer_choice(turn, result, candidates[choice - 1], turn.text)
        elif is_bare_choice(turn.text, turn.entities.get("option")):
            # "số 2" with no list on screen, or past its end: searching the words finds nothing
            text = _CHOICE_OUT_OF_RANGE.format(n=len(candidates)) if candidates else _NO_LIST
            result.say(text, answered=None, kind=ReplyKind.CHOOSE, **_meta(turn))
        else:
            self.answer(turn, result)

    def refuse(self, turn: Turn, result: ActionResult) -> None:
        """The classifier says out of scope; a follow-up in context, a recognised record, a
        curated answer or a more precise refusal of the knowledge base wins over it."""
        move = resolve(turn.text, turn.state, self._name)
        if move.kind is not MoveKind.SEARCH or parse_question(move.question).objects:
            self.answer(turn, result)
            return
        asked = self.kb.ask(turn.text, top_k=3)
        if asked.answerable and asked.from_faq:
            result.say(asked.answer, answered=True, kind=ReplyKind.ANSWER, **_meta(turn))
            return
        if asked.refusal_kind in _KB_REFUSALS:
            kind = REFUSAL_KINDS[asked.refusal_kind or ""]
            result.say(asked.answer, [HANDOFF_BUTTON], answered=False, kind=kind, **_meta(turn))
            return
        text = self.kb.refusal()
        kind = ReplyKind.OUT_OF_SCOPE
        result.say(text, [HANDOFF_BUTTON], answered=False, kind=kind, **_meta(turn))

    def answer_choice(self, turn: Turn, result: ActionResult, code: str, said: str) -> None:
        """Answer about the chosen procedure: the aspect the citizen names now, or else the
        one of the question the list was offered for."""
        asked_now = detect_aspect(said) is not Aspect.GENERAL
        question = said if asked_now else turn.state.pending_question
        self._say_answer(turn, result, code, question)

    # --- helpers ---------------------------------------------------------------------------
    def _say_answer(
        self,
        turn: Turn,
        result: ActionResult,
        code: str,
        question: str,
        aspect: Aspect | None = None,
    ) -> None:
        aspect = aspect or detect_aspect(question)
        text = self.kb.answer_about(code, question, aspect) or self.kb.refusal()
        result.say(text, procedure_code=code, answered=True, kind=ReplyKind.ANSWER, **_meta(turn))
        result.set("procedure_code", code)
        result.set("candidates", None)
        if aspect is not Aspect.GENERAL:
            result.set("last_aspect", aspect.value)

    def _search(self, turn: Turn, result: ActionResult, move: Move) -> None:
        question = move.question
        asked = self.kb.ask(question, top_k=5)
        if not asked.answerable and asked.refusal_kind == "unsure" and asked.procedures:
            self._offer(turn, result, asked.answer, asked.procedures[:3], ReplyKind.NOT_SURE)
            return
        if not asked.answerable:
            # an offered list stays open: the citizen may still choose after an aside
            kind = REFUSAL_KINDS.get(asked.refusal_kind or "", ReplyKind.OUT_OF_SCOPE)
            result.say(asked.answer, [HANDOFF_BUTTON], answered=False, kind=kind, **_meta(turn))
            return
        if asked.from_faq or not asked.procedures:
            codes = asked.faq[0].procedure_codes if asked.faq else []
            code = codes[0] if codes else None
            kind = ReplyKind.ANSWER
            result.say(asked.answer, answered=True, procedure_code=code, kind=kind, **_meta(turn))
            result.set("candidates", None)
            return
        top, others = asked.procedures[0], asked.procedures[1:4]
        # a specialisation of the top name ("Xóa đăng ký thường trú" for "Đăng ký thường trú")
        # is no rival: had the question asked for it, it would have ranked first
        words = content_syllables(top.name)
        variants = [
            p
            for p in others
            if p.name in near_variants(top.name, [o.name for o in others])
            and not words < content_syllables(p.name)
        ]
        if (
            move.kind is MoveKind.SEARCH
            and variants
            and not _settled(question, top.name, [v.name for v in variants])
        ):
            options = [top, *variants][:3]
            listing = "\n".join(f"{i}. {p.name}" for i, p in enumerate(options, start=1))
            ask = f"Có {len(options)} thủ tục gần giống nhau, anh/chị hỏi về thủ tục nào ạ?"
            self._offer(turn, result, f"{ask}\n{listing}", options, ReplyKind.CHOOSE)
            return
        last = turn.state.aspect
        same_question = _SAME_QUESTION_RE.match(fold_accents(question))
        if detect_aspect(question) is Aspect.GENERAL and last and same_question:
            self._say_answer(turn, result, top.code, question, Aspect(last))
            return
        self._say_answer(turn, result, top.code, question)

    def _sibling(self, turn: Turn, result: ActionResult, move: Move) -> None:
        """Another action on the same record: among the procedures about that record, the ones
        starting with the action asked; the search's order settles between several."""
        asked = parse_question(move.question).actions
        fits = [
            code
            for code, _, frame in self.kb.searcher.procedures_about(move.objects)
            if frame.actions & asked and code not in move.leaving
        ]
        if not fits:  # no such action on this record: the words alone, as a new question
            self._search(turn, result, Move(MoveKind.SEARCH, move.said, corrected=move.corrected))
            return
        ranked = [p.code for p in self.kb.ask(move.question, top_k=10).procedures]
        fits.sort(key=lambda code: ranked.index(code) if code in ranked else len(ranked))
        self._say_answer(turn, result, fits[0], move.question)

    def _offer(
        self,
        turn: Turn,
        result: ActionResult,
        text: str,
        options: Sequence[ProcedureHit],
        kind: ReplyKind,
    ) -> None:
        """Numbered procedures to choose from (and a human), remembered for "số 2"."""
        self._list(turn, result, text, [(p.code, p.name) for p in options], kind, turn.text)

    def _list(
        self,
        turn: Turn,
        result: ActionResult,
        text: str,
        options: list[tuple[str, str]],
        kind: ReplyKind,
        question: str,
    ) -> None:
        buttons = [
            {"title": f"{i}. {name}", "payload": f'/choose_option{{"option":"{i}"}}'}
            for i, (_, name) in enumerate(options, start=1)
        ]
        result.say(text, [*buttons, HANDOFF_BUTTON], answered=None, kind=kind, **_meta(turn))
        result.set("candidates", [code for code, _ in options])
        result.set("pending_question", question)

    def _aspect_of_candidates(self, turn: Turn, result: ActionResult, question: str) -> None:
        """ "Lệ phí?" before choosing: that aspect for each offered procedure, one line each,
        and the list stays open."""
        aspect = detect_aspect(question)
        found = [p for p in (self.kb.procedure(c) for c in turn.state.open_candidates()) if p]
        options = [(p.code, p.name) for p in found]
        lines = [aspect_line(p, aspect) for p in found]
        if aspect in ASPECT_LABELS and all(lines):
            listing = "\n".join(
                f"{i}. {p.name}: {line}"
                for i, (p, line) in enumerate(zip(found, lines, strict=True), start=1)
            )
            text = (
                f"{ASPECT_LABELS[aspect]} của từng thủ tục:\n{listing}\n"
                "Anh/chị chọn số thứ tự để xem chi tiết ạ."
            )
        else:
            listing = "\n".join(f"{i}. {name}" for i, (_, name) in enumerate(options, start=1))
            text = f"Anh/chị hỏi về thủ tục nào ạ? Vui lòng chọn:\n{listing}"
        self._list(turn, result, text, options, ReplyKind.CHOOSE, question)
        if aspect is not Aspect.GENERAL:
            result.set("last_aspect", aspect.value)


def _settled(question: str, top: str, variants: list[str]) -> bool:
    """The question tells the top name from each variant: by their words ("cấp tỉnh"), or by
    the action or record it names ("bị mất" is "cấp lại", not "đổi")."""
    if settles_variant(question, top, variants):
        return True
    asked, mine = parse_question(question), parse_name(top)
    return all(_apart(asked, mine, parse_name(v)) for v in variants)


def _apart(asked: Frame, mine: Frame, other: Frame) -> bool:
    by_action = asked.actions & mine.actions and not asked.actions & other.actions
    by_object = asked.objects & mine.objects and not asked.objects & other.objects
    return bool(by_action or by_object)


def _meta(turn: Turn) -> dict[str, Any]:
    return {"intent": turn.intent, "confidence": turn.confidence}
