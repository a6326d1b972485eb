"""Custom actions for Rasa, served by the API process over Rasa's JSON action protocol.

Rasa posts ``{"next_action", "sender_id", "tracker", "domain"}``; an action answers with
``{"events": [...], "responses": [...]}``. Each response may carry ``custom.hotline`` metadata
(intent, confidence, answered procedure) that the chat service stores with the transcript.

Rasa only ever sees masked personal data (``nlu.privacy``); the dossier look-up and a ticket's
contact reveal the conversation's own values (``nlu.raw_values``) and answer masked again.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine, select

from knowledge_base.db import session_scope
from knowledge_base.service import KnowledgeBase
from knowledge_base.understanding.frame import parse_question
from nlu import dialogue_state, privacy, tickets
from nlu.action_turn import HANDOFF_BUTTON, ActionResult, Json, ReplyKind, Turn
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
from nlu.procedure_actions import ProcedureActions
from nlu.raw_values import RawValues, reveal, shared_raw_values
from nlu.reading import asks_for_person, rating_of, reads_as_feedback

_BAD_DOSSIER_CODE = "Mã hồ sơ chưa đúng định dạng. Mã có dạng 000.00.12.H55-240101-0001."
_BAD_LAST4 = "Anh/chị vui lòng nhập đủ 4 chữ số cuối của số điện thoại."


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
        self.procedures = ProcedureActions(kb)
        self._actions: dict[str, Callable[[Turn, ActionResult], None]] = {
            "action_answer": self.procedures.answer,
            "action_choose_option": self.choose_option,
            "action_refuse": self.procedures.refuse,
            "action_check_dossier": self.check_dossier,
            "validate_dossier_form": self.validate_dossier_form,
            "action_start_feedback": self.start_feedback,
            "action_submit_feedback": self.submit_feedback,
            "action_ask_rating": self.ask_rating,
            "action_save_rating": self.save_rating,
            "action_handoff": self.handoff,
            "action_subscribe_notifications": self.notifications.subscribe,
            "action_cancel_notifications": self.notifications.cancel,
        }
        # Actions that only make sense in a context: a turn the classifier gave one of them
        # without that context (a question taken for "5 sao" because it holds a 1, or for
        # "nhận thông báo") is answered as the question it is.
        self._expects: dict[str, Callable[[Turn], bool]] = {
            "action_save_rating": self._rating_expected,
            # a wrong handoff leaves the citizen waiting in silence
            "action_handoff": lambda turn: asks_for_person(turn.text),
            "action_subscribe_notifications": self.notifications.expected,
            "action_cancel_notifications": self.notifications.expected,
        }

    def run(self, body: Json) -> Json:
        """A Rasa action request, with the conversation's stored state read and written."""
        name = str(body.get("next_action") or "")
        if name not in self._actions:
            raise KeyError(name)
        sender_id = str(body.get("sender_id") or (body.get("tracker") or {}).get("sender_id"))
        with session_scope(self.engine) as session:
            state = dialogue_state.load(session, sender_id)
        stored = state.to_json() if state is not None else None
        return self.run_turn(name, Turn.from_request(body, state), stored).as_json()

    def run_turn(self, name: str, turn: Turn, stored: str | None = None) -> ActionResult:
        """Run one action on a turn and store the state it leaves, if it differs from
        ``stored`` (by default the turn's state as given). Degraded mode calls this directly,
        with a turn built from the stored state."""
        result = ActionResult()
        before = turn.state.to_json() if stored is None else stored
        expected = self._expects.get(name)
        pressed = turn.text.startswith("/")  # a button's payload means what it says
        if expected is not None and not pressed and not expected(turn):
            self._misread(turn, result)
        else:
            self._actions[name](turn, result)
        turn.state.apply(result.events)
        if turn.state.to_json() != before:  # most turns of small talk change nothing
            with session_scope(self.engine) as session:
                dialogue_state.save(session, turn.sender_id, turn.state)
        return result

    def choose_option(self, turn: Turn, result: ActionResult) -> None:
        if turn.state.form == "rating":
            self.save_rating(turn, result)
        else:
            self.procedures.choose_option(turn, result)

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
                # the form asks again because the slot stays empty
                result.say(complaint, kind=ReplyKind.FORM)
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
                kind=ReplyKind.DOSSIER,
            )
            return
        if found is None:  # unknown code and wrong digits read the same, on purpose
            result.say(
                "Không tìm thấy hồ sơ khớp thông tin. Anh/chị kiểm tra lại mã hồ sơ "
                "và 4 số cuối điện thoại.",
                intent="check_dossier",
                kind=ReplyKind.DOSSIER,
            )
            return
        due = found.due_on.strftime("%d/%m/%Y") if found.due_on else "chưa có"
        result.say(
            f"Hồ sơ có mã kết thúc bằng {found.code[-4:]} ({found.procedure_name}): "
            f"{found.status}. "
            f"Cơ quan tiếp nhận: {found.receiving_agency}. Ngày hẹn trả kết quả: {due}.",
            intent="check_dossier",
            kind=ReplyKind.DOSSIER,
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

    def _misread(self, turn: Turn, result: ActionResult) -> None:
        """A turn given an action it cannot be for: feedback opens the feedback form (Rasa runs
        it next), anything else is answered as a question."""
        if reads_as_feedback(turn.text):
            result.set("feedback_wanted", True)
            result.events.append({"event": "followup", "name": "feedback_form", "timestamp": None})
        else:
            self.procedures.answer(turn, result)

    def start_feedback(self, turn: Turn, result: ActionResult) -> None:
        """The classifier said feedback: open the form for a complaint or a suggestion, answer
        anything else ("tôi muốn làm hộ chiếu") as the question it is."""
        wanted = reads_as_feedback(turn.text)
        result.set("feedback_wanted", wanted)
        if not wanted:
            self.procedures.answer(turn, result)

    def submit_feedback(self, turn: Turn, result: ActionResult) -> None:
        content = str(turn.slots.get("feedback_content") or "").strip()
        result.set("feedback_content", None)
        if not self._within(turn, "feedback", self.kb.settings.feedback_per_client_hour):
            result.say(
                "Anh/chị đã gửi nhiều phản ánh trong thời gian ngắn. Vui lòng thử lại sau ít "
                f"phút hoặc gọi tổng đài {self.kb.settings.hotline_phone}.",
                intent="feedback",
                kind=ReplyKind.FEEDBACK,
            )
            return
        with session_scope(self.engine) as session:
            ticket = tickets.create(session, turn.sender_id, self._revealed(turn, content))
        result.say(
            f"Cảm ơn anh/chị. Phản ánh đã được ghi nhận với số {ticket}. "
            "Cán bộ sẽ xem xét và trả lời sớm.",
            intent="feedback",
            kind=ReplyKind.FEEDBACK,
            ticket=ticket,
        )

    def ask_rating(self, turn: Turn, result: ActionResult) -> None:
        result.say(
            "Cảm ơn anh/chị đã liên hệ. Anh/chị đánh giá mức độ hài lòng từ 1 đến 5 ạ?",
            [{"title": str(n), "payload": f'/rate{{"rating":"{n}"}}'} for n in range(5, 0, -1)],
            intent=turn.intent,
            kind=ReplyKind.RATING,
        )
        result.set("awaiting_rating", True)

    def _rating_expected(self, turn: Turn) -> bool:
        """A rating was asked, or the turn is a short one that names no procedure ("5 sao")."""
        if turn.state.form == "rating":
            return True
        short = len(turn.text.split()) <= 6
        return (
            short and parse_question(turn.text).is_empty and rating_of(turn.text, None) is not None
        )

    def save_rating(self, turn: Turn, result: ActionResult) -> None:
        score = rating_of(turn.text, turn.entities.get("rating"))
        if score is None:
            result.say(
                "Anh/chị vui lòng chọn một số từ 1 đến 5.",
                intent="rate",
                kind=ReplyKind.RATING,
            )
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
            kind=ReplyKind.RATING,
            rating=score,
        )
        result.set("awaiting_rating", False)

    def handoff(self, turn: Turn, result: ActionResult) -> None:
        if not self._within(turn, "handoff", self.kb.settings.handoff_per_client_hour):
            result.say(
                "Anh/chị đã yêu cầu gặp nhân viên nhiều lần trong thời gian ngắn. Vui lòng gọi "
                f"tổng đài {self.kb.settings.hotline_phone} để được hỗ trợ trực tiếp.",
                intent="handoff",
                kind=ReplyKind.HANDOFF,
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
            kind=ReplyKind.HANDOFF,
            handoff=True,
        )
