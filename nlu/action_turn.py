"""What an action gets (the turn, with the conversation's stored state) and what it gives back
(slot events and responses tagged with the kind of reply)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from knowledge_base.text.normalize import normalize_text
from nlu.dialogue_state import DialogueState

Json = dict[str, Any]
HANDOFF_BUTTON = {"title": "Gặp nhân viên", "payload": "/handoff"}
_FORMS_OF_LOOPS = {"dossier_form": "dossier", "feedback_form": "feedback"}


class ReplyKind(StrEnum):
    """What kind of reply a bot turn is; stored with it, returned by the chat API, and kept
    apart in the unanswered inbox."""

    ANSWER = "answer"
    CHOOSE = "choose"  # a list to choose from, or a question back about the list
    NOT_SURE = "not_sure"  # about a procedure, not sure which: the closest ones offered
    OUT_OF_SCOPE = "out_of_scope"
    NOT_UNDERSTOOD = "not_understood"
    FIGURE_MISSING = "figure_missing"
    NOT_IN_PROVINCE = "not_in_province"
    HANDOFF = "handoff"
    FORM = "form"  # a question inside the dossier look-up or the feedback form
    DOSSIER = "dossier"
    FEEDBACK = "feedback"
    RATING = "rating"
    SMALL_TALK = "small_talk"


REFUSAL_KINDS = {
    "out_of_scope": ReplyKind.OUT_OF_SCOPE,
    "unsure": ReplyKind.NOT_SURE,
    "not_understood": ReplyKind.NOT_UNDERSTOOD,
    "figure_missing": ReplyKind.FIGURE_MISSING,
    "not_in_province": ReplyKind.NOT_IN_PROVINCE,
}


@dataclass
class ActionResult:
    events: list[Json] = field(default_factory=list)
    responses: list[Json] = field(default_factory=list)

    def say(self, text: str, buttons: list[Json] | None = None, **meta: Any) -> None:
        response: Json = {"text": text, "buttons": buttons or []}
        if meta:
            response["custom"] = {"hotline": meta}
        self.responses.append(response)

    def set(self, slot: str, value: Any) -> None:
        self.events.append({"event": "slot", "name": slot, "value": value, "timestamp": None})

    def as_json(self) -> Json:
        return {"events": self.events, "responses": self.responses}


@dataclass(frozen=True)
class Turn:
    sender_id: str
    text: str  # the citizen's own wording (NFC), from metadata when the chat API sent it
    intent: str
    confidence: float
    slots: Json
    entities: dict[str, str]
    state: DialogueState = field(default_factory=DialogueState)

    @classmethod
    def from_request(cls, body: Json, state: DialogueState | None = None) -> Turn:
        """A Rasa action request; the stored state's slots win over Rasa's copies of them (Rasa
        may have missed turns answered while it was down)."""
        tracker = body.get("tracker") or {}
        latest = tracker.get("latest_message") or {}
        metadata = latest.get("metadata") or {}
        intent = latest.get("intent") or {}
        slots = dict(tracker.get("slots") or {})
        state = state or DialogueState.from_slots(slots)
        loop = (tracker.get("active_loop") or {}).get("name")
        if loop in _FORMS_OF_LOOPS and state.form != _FORMS_OF_LOOPS[loop]:
            state.start_form(_FORMS_OF_LOOPS[loop])
        return cls(
            sender_id=str(body.get("sender_id") or tracker.get("sender_id") or ""),
            text=normalize_text(str(metadata.get("text") or latest.get("text") or "")),
            intent=str(intent.get("name") or ""),
            confidence=float(intent.get("confidence") or 0.0),
            slots={**slots, **state.as_slots()},
            entities={e["entity"]: str(e.get("value")) for e in latest.get("entities") or []},
            state=state,
        )
