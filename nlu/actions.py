"""Custom actions for Rasa, served by the API process over Rasa's JSON action protocol.

Rasa posts ``{"next_action", "sender_id", "tracker", "domain"}``; an action answers with
``{"events": [...], "responses": [...]}``. Each response may carry ``custom.hotline`` metadata
(intent, confidence, answered procedure) that the chat service stores with the transcript.

Rasa only ever sees masked personal data (``nlu.privacy``); the dossier look-up and a ticket's
contact reveal the conversation's own values (``nlu.raw_values``) and answer masked again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, select

from knowledge_base.answer.compose import near_variants
from knowledge_base.answer.results import ProcedureHit
from knowledge_base.db import session_scope
from knowledge_base.service import KnowledgeBase
from knowledge_base.text.normalize import normalize_text
from nlu import privacy, tickets
from nlu.dossiers import (
    AttemptLimiter,
    LookUpLimits,
    Quota,
    TooManyAttemptsError,
    look_up,
    normalize_dossier_code,
    normalize_last4,
)
from nlu.models import Conversation, ConversationState, Rating
from nlu.notifications.dialogue import NotificationDialogue
from nlu.raw_values import RawValues, reveal, shared_raw_values
from nlu.reading import chosen_option, is_bare_choice, is_follow_up, rating_of, settles_variant

Json = dict[str, Any]
HANDOFF_BUTTON = {"title": "Gặp nhân viên", "payload": "/handoff"}
_BAD_DOSSIER_CODE = "Mã hồ sơ chưa đúng định dạng. Mã có dạng 000.00.12.H55-240101-0001."
_NO_LIST = (
    "Hiện không có danh sách nào đang chờ chọn ạ. Anh/chị cho biết tên thủ tục hoặc việc cần làm "
    "(ví dụ: «làm hộ chiếu cần giấy tờ gì») để tổng đài hỗ trợ."
)
_CHOICE_OUT_OF_RANGE = "Danh sách chỉ có {n} mục, anh/chị vui lòng chọn từ 1 đến {n} ạ."
_BAD_LAST4 = "Anh/chị vui lòng nhập đủ 4 chữ số cuối của số điện thoại."


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

    @classmethod
    def from_request(cls, body: Json) -> Turn:
        tracker = body.get("tracker") or {}
        latest = tracker.get("latest_message") or {}
        metadata = latest.get("metadata") or {}
        intent = latest.get("intent") or {}
        return cls(
            sender_id=str(body.get("sender_id") or tracker.get("sender_id") or ""),
            text=normalize_text(str(metadata.get("text") or latest.get("text") or "")),
            intent=str(intent.get("name") or ""),
            confidence=float(intent.get("confidence") or 0.0),
            slots=dict(tracker.get("slots") or {}),
            entities={e["entity"]: str(e.get("value")) for e in latest.get("entities") or []},
        )


class ActionServer:
    """Runs the named action; blocking work (retrieval, SQL) — call it from a worker thread."""

    def __init__(
        self,
        kb: KnowledgeBase,
        engine: Engine,
        limiter: AttemptLimiter,
        raw_values: RawValues | None = None,
    ) -> None:
        self.kb, self.engine, self.limiter = kb, engine, limiter
        settings = kb.settings
        self.raw_values = raw_values or shared_raw_values(settings)
        self.look_up_limits = LookUpLimits(
            settings.dossier_max_failures,
            settings.dossier_failure_window_s,
            settings.dossier_client_max_failures,
            settings.dossier_client_window_s,
        )
        self.notifications = NotificationDialogue(engine, settings, self.raw_values)
        self._actions: dict[str, Callable[[Turn, ActionResult], None]] = {
            "action_answer": self.answer,
            "action_choose_option": self.choose_option,
            "action_refuse": self.refuse,
            "action_check_dossier": self.check_dossier,
            "validate_dossier_form": self.validate_dossier_form,
            "action_submit_feedback": self.submit_feedback,
            "action_ask_rating": self.ask_rating,
            "action_save_rating": self.save_rating,
            "action_handoff": self.handoff,
            "action_subscribe_notifications": self.notifications.subscribe,
            "action_cancel_notifications": self.notifications.cancel,
        }

    def run(self, body: Json) -> Json:
        name = str(body.get("next_action") or "")
        action = self._actions.get(name)
        if action is None:
            raise KeyError(name)
        result = ActionResult()
        action(Turn.from_request(body), result)
        return result.as_json()

    # --- procedures ----------------------------------------------------------------------
    def answer(self, turn: Turn, result: ActionResult) -> None:
        current = turn.slots.get("procedure_code")
        meta: dict[str, Any] = {"intent": turn.intent, "confidence": turn.confidence}
        named = self._candidate_named(turn)
        if named is not None:
            self._answer_choice(turn, result, named)
            return
        if current and is_follow_up(turn.text):
            text = self.kb.answer_about(str(current), turn.text)
            if text is not None:
                result.say(text, procedure_code=current, answered=True, **meta)
                return
        asked = self.kb.ask(turn.text, top_k=5)
        if not asked.answerable and asked.refusal_kind == "unsure" and asked.procedures:
            self._offer(turn, result, asked.answer, asked.procedures[:3], meta)
            return
        if not asked.answerable:
            self.refuse(turn, result)
            return
        if asked.from_faq or not asked.procedures:
            codes = asked.faq[0].procedure_codes if asked.faq else []
            result.say(
                asked.answer, answered=True, procedure_code=codes[0] if codes else None, **meta
            )
            result.set("candidates", None)
            return
        top, others = asked.procedures[0], asked.procedures[1:4]
        variants = [
            p for p in others if p.name in near_variants(top.name, [o.name for o in others])
        ]
        if variants and not settles_variant(turn.text, top.name, [v.name for v in variants]):
            options = [top, *variants][:3]
            listing = "\n".join(f"{i}. {p.name}" for i, p in enumerate(options, start=1))
            question = f"Có {len(options)} thủ tục gần giống nhau, anh/chị hỏi về thủ tục nào ạ?"
            self._offer(turn, result, f"{question}\n{listing}", options, meta)
            return
        result.say(asked.answer, procedure_code=top.code, answered=True, **meta)
        result.set("procedure_code", top.code)
        result.set("candidates", None)

    def _offer(
        self,
        turn: Turn,
        result: ActionResult,
        text: str,
        options: Sequence[ProcedureHit],
        meta: dict[str, Any],
    ) -> None:
        """Numbered procedures to choose from (and a human), remembered for "số 2"."""
        buttons = [
            {"title": f"{i}. {p.name}", "payload": f'/choose_option{{"option":"{i}"}}'}
            for i, p in enumerate(options, start=1)
        ]
        result.say(text, [*buttons, HANDOFF_BUTTON], answered=None, **meta)
        result.set("candidates", [p.code for p in options])
        result.set("pending_question", turn.text)

    def choose_option(self, turn: Turn, result: ActionResult) -> None:
        if turn.slots.get("awaiting_rating"):
            self.save_rating(turn, result)
            return
        candidates = list(turn.slots.get("candidates") or [])
        choice = chosen_option(turn.text, turn.entities.get("option"), len(candidates))
        if choice is not None:
            self._answer_choice(turn, result, candidates[choice - 1])
        elif is_bare_choice(turn.text, turn.entities.get("option")):
            # "số 2" with no list on screen, or past its end: searching the words finds nothing
            text = _CHOICE_OUT_OF_RANGE.format(n=len(candidates)) if candidates else _NO_LIST
            result.say(text, answered=None, intent=turn.intent, confidence=turn.confidence)
        else:
            self.answer(turn, result)

    def _candidate_named(self, turn: Turn) -> str | None:
        """The offered variant whose distinguishing words the citizen typed ("cấp tỉnh")."""
        candidates = [str(c) for c in turn.slots.get("candidates") or []]
        names = {}
        for code in candidates:
            procedure = self.kb.procedure(code)
            if procedure is not None:
                names[code] = procedure.name
        matches = [
            code
            for code, name in names.items()
            if settles_variant(turn.text, name, [n for c, n in names.items() if c != code])
        ]
        return matches[0] if len(matches) == 1 and len(names) > 1 else None

    def _answer_choice(self, turn: Turn, result: ActionResult, code: str) -> None:
        question = str(turn.slots.get("pending_question") or "")
        text = self.kb.answer_about(code, question) or self.kb.refusal()
        result.say(text, procedure_code=code, answered=True, intent=turn.intent)
        result.set("procedure_code", code)
        result.set("candidates", None)

    def refuse(self, turn: Turn, result: ActionResult) -> None:
        result.set("candidates", None)
        # Staff may have answered this since the classifier learnt to call it out of scope:
        # a curated answer (FAQ entry or province figure) wins over the refusal.
        asked = self.kb.ask(turn.text, top_k=3)
        if asked.answerable and asked.from_faq:
            result.say(asked.answer, answered=True, intent=turn.intent, confidence=turn.confidence)
            return
        result.say(
            self.kb.refusal(),
            [HANDOFF_BUTTON],
            answered=False,
            intent=turn.intent,
            confidence=turn.confidence,
        )

    # --- dossiers --------------------------------------------------------------------------
    def _revealed(self, turn: Turn, text: str) -> str:
        """The text with the conversation's masked values put back, for a look-up only."""
        return reveal(self.raw_values.recall(turn.sender_id), text) if "*" in text else text

    def validate_dossier_form(self, turn: Turn, result: ActionResult) -> None:
        # Rasa keeps the slots in its tracker: the code goes back masked, revealed again later.
        checks = (
            (
                "dossier_code",
                normalize_dossier_code,
                _BAD_DOSSIER_CODE,
                privacy.masked_dossier_code,
            ),
            ("phone_last4", normalize_last4, _BAD_LAST4, str),
        )
        for slot, normalize, complaint, stored in checks:
            raw = turn.slots.get(slot)
            if raw is None:
                continue
            value = normalize(self._revealed(turn, str(raw)))
            if value is None:
                result.say(complaint)  # the form asks again because the slot stays empty
            result.set(slot, None if value is None else stored(value))

    def check_dossier(self, turn: Turn, result: ActionResult) -> None:
        code = self._revealed(turn, str(turn.slots.get("dossier_code") or ""))
        last4 = str(turn.slots.get("phone_last4") or "")
        result.set("dossier_code", None)
        result.set("phone_last4", None)
        try:
            with session_scope(self.engine) as session:
                conversation = session.get(Conversation, turn.sender_id)
                client = conversation.client_key if conversation is not None else ""
                found = look_up(
                    session,
                    self.limiter,
                    self.look_up_limits,
                    turn.sender_id,
                    code,
                    last4,
                    client or "",
                )
        except TooManyAttemptsError:
            result.say(
                "Anh/chị đã nhập sai quá nhiều lần. Vui lòng thử lại sau 15 phút "
                "hoặc gặp nhân viên để được hỗ trợ.",
                [HANDOFF_BUTTON],
                intent="check_dossier",
            )
            return
        if found is None:  # unknown code and wrong digits read the same, on purpose
            result.say(
                "Không tìm thấy hồ sơ khớp thông tin. Anh/chị kiểm tra lại mã hồ sơ "
                "và 4 số cuối điện thoại.",
                intent="check_dossier",
            )
            return
        due = found.due_on.strftime("%d/%m/%Y") if found.due_on else "chưa có"
        result.say(
            f"Hồ sơ có mã kết thúc bằng {found.code[-4:]} ({found.procedure_name}): "
            f"{found.status}. "
            f"Cơ quan tiếp nhận: {found.receiving_agency}. Ngày hẹn trả kết quả: {due}.",
            intent="check_dossier",
            answered=True,
        )
        self.notifications.offer(turn, result, found.code)

    # --- feedback, rating, handoff -----------------------------------------------------------
    def _within(self, turn: Turn, what: str, per_hour: int) -> bool:
        """Count one ``what`` for this conversation and its client; False once either has
        had ``per_hour`` in the last hour (nothing is counted then)."""
        with session_scope(self.engine) as session:
            conversation = session.get(Conversation, turn.sender_id)
            client = conversation.client_key if conversation is not None else None
        quotas = [Quota(f"{what}:conv:{turn.sender_id}", per_hour, 3600)]
        if client:
            quotas.append(Quota(f"{what}:client:{client}", per_hour, 3600))
        return self.limiter.reserve(quotas)

    def submit_feedback(self, turn: Turn, result: ActionResult) -> None:
        content = str(turn.slots.get("feedback_content") or "").strip()
        result.set("feedback_content", None)
        if not self._within(turn, "feedback", self.kb.settings.feedback_per_client_hour):
            result.say(
                "Anh/chị đã gửi nhiều phản ánh trong thời gian ngắn. Vui lòng thử lại sau ít "
                f"phút hoặc gọi tổng đài {self.kb.settings.hotline_phone}.",
                intent="feedback",
            )
            return
        with session_scope(self.engine) as session:
            ticket = tickets.create(session, turn.sender_id, self._revealed(turn, content))
        result.say(
            f"Cảm ơn anh/chị. Phản ánh đã được ghi nhận với số {ticket}. "
            "Cán bộ sẽ xem xét và trả lời sớm.",
            intent="feedback",
            ticket=ticket,
        )

    def ask_rating(self, turn: Turn, result: ActionResult) -> None:
        result.say(
            "Cảm ơn anh/chị đã liên hệ. Anh/chị đánh giá mức độ hài lòng từ 1 đến 5 ạ?",
            [{"title": str(n), "payload": f'/rate{{"rating":"{n}"}}'} for n in range(5, 0, -1)],
            intent=turn.intent,
        )
        result.set("awaiting_rating", True)

    def save_rating(self, turn: Turn, result: ActionResult) -> None:
        score = rating_of(turn.text, turn.entities.get("rating"))
        if score is None:
            result.say("Anh/chị vui lòng chọn một số từ 1 đến 5.", intent="rate")
            return
        with session_scope(self.engine) as session:  # one rating per conversation: the last
            rated = session.scalar(select(Rating).where(Rating.conversation_id == turn.sender_id))
            if rated is None:
                session.add(Rating(conversation_id=turn.sender_id, score=score))
            else:
                rated.score = score
        result.say(
            f"Cảm ơn anh/chị đã đánh giá {score}/5. Chúc anh/chị một ngày tốt lành!",
            intent="rate",
            rating=score,
        )
        result.set("awaiting_rating", False)

    def handoff(self, turn: Turn, result: ActionResult) -> None:
        if not self._within(turn, "handoff", self.kb.settings.handoff_per_client_hour):
            result.say(
                "Anh/chị đã yêu cầu gặp nhân viên nhiều lần trong thời gian ngắn. Vui lòng gọi "
                f"tổng đài {self.kb.settings.hotline_phone} để được hỗ trợ trực tiếp.",
                intent="handoff",
            )
            return
        with session_scope(self.engine) as session:
            conversation = session.get(Conversation, turn.sender_id)
            if conversation is None:
                conversation = Conversation(id=turn.sender_id)
                session.add(conversation)
            conversation.state = ConversationState.WAITING_HUMAN
        result.say(
            "Dạ, tôi đang chuyển anh/chị sang tổng đài viên. Anh/chị vui lòng chờ trong giây lát, "
            "nhân viên sẽ trả lời ngay tại đây.",
            intent="handoff",
            handoff=True,
        )
