"""The notification steps of the dialogue: the offer after a successful dossier look-up,
"Có, nhận thông báo" and "hủy thông báo" (actions served with the others, ``nlu.actions``).

The offer is stored here against the conversation, so a yes names no dossier code: Rasa's
tracker never holds one, and a crafted payload cannot subscribe to someone else's dossier.
The address is the channel's own (the web session, the Zalo conversation) or, for SMS, the
number the citizen gives in the same message or the phone call's caller id.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from knowledge_base.db import session_scope
from knowledge_base.settings import Settings
from knowledge_base.text.normalize import fold_accents
from nlu import privacy
from nlu.models import Conversation, Dossier, VoiceCall
from nlu.notifications import service
from nlu.notifications.models import Channel
from nlu.raw_values import RawValues, reveal

if TYPE_CHECKING:
    from nlu.action_turn import ActionResult, Turn

SUBSCRIBE_PAYLOAD = "/subscribe_notifications"
CANCEL_PAYLOAD = "/cancel_notifications"
OFFER_BUTTONS = [
    {"title": "Có, nhận thông báo", "payload": SUBSCRIBE_PAYLOAD},
    {"title": "Không", "payload": CANCEL_PAYLOAD},
]
_STOP = 'Nhắn "hủy thông báo" nếu muốn ngừng nhận.'
_NOTIFICATION_CUES = re.compile(r"\b(?:thong bao|nhan tin|tin nhan|sms)\b")


class NotificationDialogue:
    def __init__(self, engine: Engine, settings: Settings, raw_values: RawValues) -> None:
        self.engine, self.settings, self.raw_values = engine, settings, raw_values
        self.offer_age = timedelta(minutes=settings.chat_session_idle_minutes)

    def _channel(self, session: Session, conversation_id: str) -> str:
        conversation = session.get(Conversation, conversation_id)
        if conversation is not None:
            return conversation.channel
        # a keypad look-up runs before the call's first turn is recorded
        return "phone" if session.get(VoiceCall, conversation_id) is not None else "web"

    def _caller(self, session: Session, conversation_id: str) -> str | None:
        call = session.get(VoiceCall, conversation_id)
        return service.normalize_phone(call.caller) if call is not None else None

    def _number_given(self, turn: Turn) -> str | None:
        """A phone number in this message (masked in it; revealed from the raw values)."""
        text = reveal(self.raw_values.recall(turn.sender_id), turn.text)
        for found in privacy.mask(text).findings:
            if found.kind is privacy.Kind.PHONE and (
                number := service.normalize_phone(found.value)
            ):
                return number
        return None

    def _own_address(self, session: Session, conversation_id: str) -> tuple[Channel, str] | None:
        channel = self._channel(session, conversation_id)
        if channel == "phone":
            number = self._caller(session, conversation_id)
            return (Channel.SMS, number) if number else None
        return (Channel.ZALO if channel == "zalo" else Channel.WEB, conversation_id)

    # --- actions ---------------------------------------------------------------------------
    def offer(self, turn: Turn, result: ActionResult, dossier_code: str) -> None:
        """After a successful look-up: remember the dossier and ask."""
        with session_scope(self.engine) as session:
            if self._channel(session, turn.sender_id) == "phone" and not self.settings.sms_url:
                return  # nothing to send a phone caller the news with
            dossier_id = session.scalar(select(Dossier.id).where(Dossier.code == dossier_code))
            if dossier_id is None:
                return
            service.record_offer(session, turn.sender_id, dossier_id)
        result.say(
            "Anh/chị có muốn nhận thông báo khi hồ sơ có kết quả không ạ?",
            OFFER_BUTTONS,
            intent="check_dossier",
            kind="dossier",
        )

    def expected(self, turn: Turn) -> bool:
        """Whether a turn classified as about notifications can be: an offer is open, or it
        speaks of notifications ("hủy thông báo")."""
        if _NOTIFICATION_CUES.search(fold_accents(turn.text)):
            return True
        with session_scope(self.engine) as session:
            return service.offered_dossier(session, turn.sender_id, self.offer_age) is not None

    def subscribe(self, turn: Turn, result: ActionResult) -> None:
        with session_scope(self.engine) as session:
            dossier_id = service.offered_dossier(session, turn.sender_id, self.offer_age)
            dossier = session.get(Dossier, dossier_id) if dossier_id is not None else None
            if dossier is None:
                result.say(
                    'Để nhận thông báo, anh/chị tra cứu hồ sơ trước (nhắn "tra cứu hồ sơ"), '
                    'rồi chọn "Có, nhận thông báo".',
                    intent="subscribe_notifications",
                    kind="dossier",
                )
                return
            number = self._number_given(turn) if self.settings.sms_url else None
            target = (Channel.SMS, number) if number else self._own_address(session, turn.sender_id)
            if target is None:  # a phone call without caller id, and no number said
                result.say(
                    "Anh/chị vui lòng đọc số điện thoại di động sẽ nhận tin nhắn, ví dụ: "
                    '"nhận thông báo qua số 0912 345 678".',
                    intent="subscribe_notifications",
                    kind="dossier",
                )
                return
            # the offer stays (until the conversation goes idle): a web subscriber may add SMS
            channel, address = target
            service.subscribe(session, dossier.id, channel, address, turn.sender_id)
            last4 = dossier.code[-4:]
        where = {
            Channel.SMS: f"Tổng đài sẽ gửi tin nhắn tới số {privacy.mask_text(address)}",
            Channel.ZALO: "Tổng đài sẽ nhắn tin cho anh/chị qua Zalo",
            Channel.WEB: "Thông báo sẽ hiện ở cửa sổ trò chuyện này, trên thẻ trình duyệt này, "
            "khi anh/chị mở lại",
        }[channel]
        text = (
            f"Đã đăng ký nhận thông báo cho hồ sơ có mã kết thúc bằng {last4}. "
            f"{where} khi hồ sơ thay đổi trạng thái. {_STOP}"
        )
        if channel is Channel.WEB and self.settings.sms_url:
            text += ' Muốn nhận qua tin nhắn SMS, anh/chị nhắn "nhận thông báo qua số" kèm số.'
        result.say(text, intent="subscribe_notifications", kind="dossier", subscribed=channel.value)

    def cancel(self, turn: Turn, result: ActionResult) -> None:
        """ "Hủy thông báo": the subscriptions of this channel address and those given in this
        conversation end, their queued messages unsent. Said to a fresh offer not taken up
        ("Không"), it declines that offer only and earlier subscriptions stay."""
        with session_scope(self.engine) as session:
            offered = service.offered_dossier(session, turn.sender_id, self.offer_age)
            service.forget_offer(session, turn.sender_id)
            own = self._own_address(session, turn.sender_id)
            targets = [own] if own else []
            active = service.active_subscriptions(session, targets, turn.sender_id)
            declined = offered is not None and offered not in {s.dossier_id for s in active}
            ended = 0 if declined else service.cancel(session, targets, turn.sender_id)
        if declined:
            text = "Dạ, tổng đài sẽ không gửi thông báo về hồ sơ này."
            if active:
                text += ' Các đăng ký trước vẫn giữ; nhắn "hủy thông báo" để hủy cả các đăng ký đó.'
        elif ended:
            text = "Đã hủy nhận thông báo hồ sơ. Tổng đài sẽ không gửi thêm tin nào."
        else:
            text = "Anh/chị hiện không có đăng ký nhận thông báo hồ sơ nào."
        result.say(text, intent="cancel_notifications", kind="dossier", cancelled=ended)
