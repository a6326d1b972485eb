"""Rasa as the project's rules and forms drive our actions, for channel tests.

Payloads (``/choose_option{"option":"2"}``) are intents with entities, as Rasa's REST channel
reads them; a few keywords stand in for the NLU; the dossier and feedback forms ask for their
slots with the domain's prompts; slots are kept per sender like Rasa's tracker. Answers come
in the REST channel's shape: text and buttons, then ``custom`` as a message of its own."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from nlu.runtime import RASA_PROJECT

_PAYLOAD_RE = re.compile(r"^/(\w+)(\{.*\})?$")
FORMS = {"dossier": ["dossier_code", "phone_last4"], "feedback": ["feedback_content"]}
FORM_END = {"dossier": "action_check_dossier", "feedback": "action_submit_feedback"}
INTENT_ACTIONS = {
    "choose_option": "action_choose_option",
    "rate": "action_save_rating",
    "handoff": "action_handoff",
    "goodbye": "action_ask_rating",
}


def _understand(text: str) -> tuple[str | None, dict[str, str]]:
    payload = _PAYLOAD_RE.match(text.strip())
    if payload:
        entities = json.loads(payload.group(2) or "{}")
        return payload.group(1), {k: str(v) for k, v in entities.items()}
    lowered = text.lower()
    for words, intent in (
        ("nhân viên", "handoff"),
        ("tạm biệt", "goodbye"),
        ("tra cứu hồ sơ", "check_dossier"),
        ("phản ánh", "feedback"),
    ):
        if words in lowered:
            return intent, {}
    return None, {}


class RasaDouble:
    def __init__(self) -> None:
        self.actions: Any = None
        self.slots: dict[str, dict[str, Any]] = {}
        self.heard: list[str] = []  # every text it was sent
        self.canned: list[dict[str, Any]] | None = None  # answered once instead, then cleared
        responses = yaml.safe_load((RASA_PROJECT / "domain.yml").read_text(encoding="utf-8"))
        self.ask = {
            slot: responses["responses"][f"utter_ask_{slot}"][0]["text"]
            for slots in FORMS.values()
            for slot in slots
        }

    async def send(
        self, sender_id: str, text: str, metadata: dict[str, Any]
    ) -> list[dict[str, Any]]:
        self.heard.append(text)
        if self.canned is not None:
            canned, self.canned = self.canned, None
            return canned
        slots = self.slots.setdefault(sender_id, {})
        intent, entities = _understand(text)
        form = slots.get("active_form")
        if form and intent is None:
            return self._fill(sender_id, form, text, metadata)
        if intent in ("check_dossier", "feedback"):
            form = "dossier" if intent == "check_dossier" else "feedback"
            slots.update(active_form=form, requested_slot=FORMS[form][0])
            return [{"recipient_id": sender_id, "text": self.ask[FORMS[form][0]]}]
        action = INTENT_ACTIONS.get(intent or "", "action_answer")
        return self._run(action, sender_id, text, metadata, intent or "ask_procedure", entities)

    def _fill(
        self, sender_id: str, form: str, text: str, metadata: dict[str, Any]
    ) -> list[dict[str, Any]]:
        slots = self.slots[sender_id]
        requested = slots["requested_slot"]
        slots[requested] = text
        said: list[dict[str, Any]] = []
        if form == "dossier":
            said = self._run("validate_dossier_form", sender_id, text, metadata)
            if slots.get(requested) is None:
                return [*said, {"recipient_id": sender_id, "text": self.ask[requested]}]
        remaining = [s for s in FORMS[form] if slots.get(s) is None]
        if remaining:
            slots["requested_slot"] = remaining[0]
            return [*said, {"recipient_id": sender_id, "text": self.ask[remaining[0]]}]
        slots.update(active_form=None, requested_slot=None)
        return [*said, *self._run(FORM_END[form], sender_id, text, metadata)]

    def _run(
        self,
        action: str,
        sender_id: str,
        text: str,
        metadata: dict[str, Any],
        intent: str = "",
        entities: dict[str, str] | None = None,
    ) -> list[dict[str, Any]]:
        slots = self.slots.setdefault(sender_id, {})
        body = {
            "next_action": action,
            "sender_id": sender_id,
            "tracker": {
                "sender_id": sender_id,
                "slots": dict(slots),
                "latest_message": {
                    "text": text,
                    "metadata": metadata,
                    "intent": {"name": intent, "confidence": 1.0},
                    "entities": [{"entity": k, "value": v} for k, v in (entities or {}).items()],
                },
            },
        }
        result = self.actions.run(body)
        for event in result["events"]:
            slots[event["name"]] = event["value"]
        out: list[dict[str, Any]] = []
        for response in result["responses"]:
            out.append(
                {
                    "recipient_id": sender_id,
                    "text": response["text"],
                    "buttons": response["buttons"],
                }
            )
            if "custom" in response:
                out.append({"recipient_id": sender_id, "custom": response["custom"]})
        return out
