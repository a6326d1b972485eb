"""Where a conversation stands, stored with it: the current procedure or the offered
candidates, the last aspect asked, the pending form, and the turn at which each was set.

One row per conversation (``dialogue_states``). The web chat, Zalo and the phone line all go
through the chat service, so they share it; the Rasa actions and degraded mode read and write
the same state, so a conversation keeps its thread when Rasa goes down or comes back.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from knowledge_base.models import utcnow
from nlu.models import Conversation, DialogueStateRow

logger = logging.getLogger(__name__)

LIST_OPEN_TURNS = 4  # an offered list older than this many citizen turns is closed
FORMS = ("dossier", "feedback", "rating")
# the slots the actions read and write that the stored state holds
DIALOGUE_SLOTS = ("procedure_code", "candidates", "pending_question", "last_aspect")
FORM_SLOTS = ("dossier_code", "phone_last4", "feedback_content")


@dataclass
class DialogueState:
    turn: int = 0  # citizen turns so far
    procedure_code: str | None = None
    procedure_turn: int = 0
    candidates: list[str] = field(default_factory=list)
    candidates_turn: int = 0
    pending_question: str = ""  # the question the candidates were offered for
    aspect: str | None = None  # the last aspect asked (fee, time, documents…)
    aspect_turn: int = 0
    form: str | None = None  # dossier | feedback | rating
    form_turn: int = 0
    form_slots: dict[str, str] = field(default_factory=dict)  # masked values only

    @classmethod
    def from_json(cls, text: str) -> DialogueState:
        try:
            raw = json.loads(text or "{}")
        except ValueError:
            logger.warning("dialogue_state.unreadable")
            return cls()
        if not isinstance(raw, dict):
            return cls()
        known = {f.name for f in fields(cls)}
        try:
            return cls(**{k: v for k, v in raw.items() if k in known})
        except TypeError:
            return cls()

    @classmethod
    def from_slots(cls, slots: dict[str, Any]) -> DialogueState:
        """A conversation with no stored state yet, from Rasa's slots."""
        state = cls(
            procedure_code=slots.get("procedure_code") or None,
            candidates=[str(c) for c in slots.get("candidates") or []],
            pending_question=str(slots.get("pending_question") or ""),
        )
        if slots.get("awaiting_rating"):
            state.form = "rating"
        return state

    def to_json(self) -> str:
        stored = asdict(self)
        del stored["turn"]  # its own column, counted in SQL
        return json.dumps(stored, ensure_ascii=False)

    def open_candidates(self) -> list[str]:
        """The offered list, while it is still the latest thing offered and recent."""
        if not self.candidates or self.turn - self.candidates_turn > LIST_OPEN_TURNS:
            return []
        return list(self.candidates)

    def candidates_are_newer(self) -> bool:
        return bool(self.open_candidates()) and self.candidates_turn >= self.procedure_turn

    def as_slots(self) -> dict[str, Any]:
        return {
            "procedure_code": self.procedure_code,
            "candidates": self.open_candidates() or None,
            "pending_question": self.pending_question or None,
            "last_aspect": self.aspect,
            "awaiting_rating": self.form == "rating",
        }

    def apply(self, events: list[dict[str, Any]]) -> None:
        """Record the slot events an action returned."""
        for event in events:
            if event.get("event") == "slot":
                self._set(str(event.get("name")), event.get("value"))

    def _set(self, slot: str, value: Any) -> None:
        if slot == "procedure_code":
            self.procedure_code = str(value) if value else None
            self.procedure_turn = self.turn
        elif slot == "candidates":
            self.candidates = [str(c) for c in value or []]
            self.candidates_turn = self.turn
        elif slot == "pending_question":
            self.pending_question = str(value or "")
        elif slot == "last_aspect":
            self.aspect = str(value) if value else None
            self.aspect_turn = self.turn
        elif slot == "awaiting_rating":
            self.start_form("rating" if value else None)
        elif slot in FORM_SLOTS:
            if value is None:
                self.form_slots.pop(slot, None)
            else:
                self.form_slots[slot] = str(value)

    def start_form(self, form: str | None) -> None:
        if form != self.form:
            self.form_slots = {}
        self.form, self.form_turn = form, self.turn


def load(session: Session, conversation_id: str) -> DialogueState | None:
    row = session.execute(
        select(DialogueStateRow.turn, DialogueStateRow.state).where(
            DialogueStateRow.conversation_id == conversation_id
        )
    ).first()
    if row is None:
        return None
    state = DialogueState.from_json(row.state)
    state.turn = row.turn
    return state


# One statement a write: a turn of the chat costs a few of these, and the phone line and
# the web chat share the database.
def save(session: Session, conversation_id: str, state: DialogueState) -> None:
    """Store the state (the turn count is kept by ``next_turn``); nothing is stored for an id
    no conversation has (an action run outside a chat, such as the phone's keypad look-up
    before the caller has spoken)."""
    written = session.execute(
        update(DialogueStateRow)
        .where(DialogueStateRow.conversation_id == conversation_id)
        .values(state=state.to_json(), updated_at=utcnow())
    )
    if written.rowcount == 0 and session.get(Conversation, conversation_id) is not None:  # type: ignore[attr-defined]
        session.add(
            DialogueStateRow(
                conversation_id=conversation_id, turn=state.turn, state=state.to_json()
            )
        )


def next_turn(session: Session, conversation_id: str) -> None:
    """Count one citizen turn (called as the citizen's message is stored, in its session)."""
    counted = session.execute(
        update(DialogueStateRow)
        .where(DialogueStateRow.conversation_id == conversation_id)
        .values(turn=DialogueStateRow.turn + 1, updated_at=utcnow())
    )
    if counted.rowcount == 0:  # type: ignore[attr-defined]
        session.flush()  # the conversation row this one points at
        session.add(DialogueStateRow(conversation_id=conversation_id, turn=1, state="{}"))
