"""Degraded mode: the dialogue without Rasa, on the same stored state and the same actions.

Buttons' payloads, a few plain phrasings (a person, a dossier look-up, feedback, goodbye) and the
pending form decide the action; everything else is a procedure question for the same
follow-up resolution the Rasa actions use. The forms ask with Rasa's own wording (domain.yml).
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from knowledge_base.db import session_scope
from knowledge_base.text.normalize import fold_accents, normalize_text
from nlu import dialogue_state
from nlu.action_turn import ActionResult, Json, ReplyKind, Turn
from nlu.actions import ActionServer
from nlu.dialogue_state import DialogueState
from nlu.reading import FEEDBACK_CUES, asks_for_person, is_bare_choice, rating_of

DOMAIN = Path(__file__).parent / "project" / "domain.yml"
_PAYLOAD_RE = re.compile(r"^/(\w+)(\{.*\})?$")
# a dossier code as typed, or as the chat service masked it before this reads it
_CODE_RE = re.compile(r"[\d*]{3}\.[\d*]{2}\.[\d*]{2}\.[A-Za-z]\d{2}-[\d*]{6}-\d{4}")
# (intent, pattern on the accent-free text); the first that matches wins
_PHRASES: list[tuple[str, re.Pattern[str]]] = [
    (
        "check_dossier",
        re.compile(
            r"\b(?:tra cuu|kiem tra|xem|hoi)(?: lai| giup| dum| cho toi)*"
            r"(?: tinh trang| tien do| ket qua)? ho so\b"
            r"|\bho so (?:cua (?:toi|em|minh|tui)|den dau|xong chua)|\bma ho so\b"
        ),
    ),
    ("feedback", re.compile(rf"^(?:toi |em |minh )?(?:muon )?(?:gui )?(?:{FEEDBACK_CUES})\b")),
    (
        "cancel_notifications",
        re.compile(r"\b(?:huy|dung|ngung|khong (?:nhan|can))\b.*\b(?:thong bao|tin nhan)\b"),
    ),
    ("subscribe_notifications", re.compile(r"^(?:co|vang|dong y|ok)\b.*\bthong bao\b")),
    ("goodbye", re.compile(r"\b(?:tam biet|bye|hen gap lai)\b|\bchao(?: ban| em)? (?:nhe|nha)\b")),
    ("thank", re.compile(r"^(?:(?:ok|oke|vang|da|u|a)\s*,?\s*)?(?:cam on|cam mon|thank)")),
    ("greet", re.compile(r"^(?:xin chao|chao (?:ban|em|anh|chi)|hello|hi)\W*$")),
]
_CANCEL_RE = re.compile(r"^(?:thoi|huy|dung|khong (?:tra|gui) nua|bo qua)\b")
_CANCELLED = "Dạ, tôi đã dừng lại. Anh/chị cần hỏi gì thêm ạ?"
_SIMPLE_ACTIONS = {
    "handoff": "action_handoff",
    "goodbye": "action_ask_rating",
    "rate": "action_save_rating",
    "choose_option": "action_choose_option",
    "subscribe_notifications": "action_subscribe_notifications",
    "cancel_notifications": "action_cancel_notifications",
}
_UTTERANCES = {"greet": "utter_greet", "thank": "utter_you_are_welcome"}


@cache
def _responses() -> dict[str, Json]:
    """Rasa's responses (text and reply kind) by name, read from its domain."""
    domain = yaml.safe_load(DOMAIN.read_text(encoding="utf-8"))
    return {name: items[0] for name, items in domain["responses"].items()}


def _utter(name: str, result: ActionResult, intent: str) -> None:
    response = _responses()[name]
    result.say(str(response["text"]), intent=intent, **response["custom"]["hotline"])


def _payload(text: str) -> tuple[str, dict[str, str]] | None:
    match = _PAYLOAD_RE.match(text.strip())
    if match is None:
        return None
    try:
        entities = json.loads(match.group(2) or "{}")
    except ValueError:
        entities = {}
    if not isinstance(entities, dict):
        entities = {}
    return match.group(1), {str(k): str(v) for k, v in entities.items()}


def classify(text: str, state: DialogueState) -> tuple[str, dict[str, str]]:
    """The intent of a turn without the trained classifier."""
    payload = _payload(text)
    if payload is not None:
        return payload
    folded = fold_accents(normalize_text(text))
    if _CODE_RE.search(text.upper()):
        return "check_dossier", {}
    if asks_for_person(text):
        return "handoff", {}
    for intent, pattern in _PHRASES:
        if pattern.search(folded):
            return intent, {}
    if state.form == "rating" and rating_of(text, None) is not None:
        return "rate", {}
    if is_bare_choice(text, None):
        return "choose_option", {}
    return "ask_procedure", {}


class DegradedDialogue:
    def __init__(self, actions: ActionServer) -> None:
        self.actions = actions

    def respond(self, conversation_id: str, text: str) -> list[Json]:
        with session_scope(self.actions.engine) as session:
            state = dialogue_state.load(session, conversation_id) or DialogueState()
        intent, entities = classify(text, state)
        turn = Turn(conversation_id, normalize_text(text), intent, 1.0, {}, entities, state)
        result = ActionResult()
        if state.form in ("dossier", "feedback") and intent not in ("handoff", "check_dossier"):
            self._continue_form(turn, text, result)
        elif intent in ("check_dossier", "feedback"):
            state.start_form("dossier" if intent == "check_dossier" else "feedback")
            code = _CODE_RE.search(text.upper())
            self._continue_form(turn, code.group(0) if code else "", result)
        elif intent in _UTTERANCES:
            _utter(_UTTERANCES[intent], result, intent)
        else:
            name = _SIMPLE_ACTIONS.get(intent, "action_answer")
            self._run(name, turn, result)
        with session_scope(self.actions.engine) as session:
            dialogue_state.save(session, conversation_id, state)
        return result.responses

    def _run(self, name: str, turn: Turn, result: ActionResult, **slots: Any) -> ActionResult:
        state = turn.state
        slotted = Turn(
            turn.sender_id,
            turn.text,
            turn.intent,
            turn.confidence,
            {**state.as_slots(), **state.form_slots, **slots},
            turn.entities,
            state,
        )
        done = self.actions.run_turn(name, slotted)
        result.responses.extend(done.responses)
        return done

    def _continue_form(self, turn: Turn, text: str, result: ActionResult) -> None:
        """One step of the dossier look-up or the feedback form, as Rasa's forms ask them."""
        state = turn.state
        if _CANCEL_RE.match(fold_accents(normalize_text(text))):
            state.start_form(None)
            result.say(_CANCELLED, intent=turn.intent, kind=ReplyKind.FORM)
            return
        if state.form == "feedback":
            if not text:
                return self._ask("feedback_content", turn, result)
            self._run("action_submit_feedback", turn, result, feedback_content=text)
            state.start_form(None)
            return
        for slot in ("dossier_code", "phone_last4"):
            if slot in state.form_slots:
                continue
            if text:
                self._run("validate_dossier_form", turn, result, **{slot: text})
                text = ""
            if slot not in state.form_slots:
                return self._ask(slot, turn, result)
        self._run("action_check_dossier", turn, result)
        state.start_form(None)

    def _ask(self, slot: str, turn: Turn, result: ActionResult) -> None:
        _utter(f"utter_ask_{slot}", result, turn.intent)
