"""Messages sent to a caller during a call: a long answer in full, by SMS, to the number they
are calling from. The voice worker only asks; an outbox (``MessageOutbox``) delivers, retries
and deduplicates by idempotency key. Without one, the caller is told it cannot be sent now."""

from __future__ import annotations

import logging
import re
from typing import Protocol

from voice import prompts

logger = logging.getLogger(__name__)
_NUMBER_RE = re.compile(r"\+?\d{8,15}")
_MARKDOWN_RE = re.compile(r"\*\*|__")


class MessageOutbox(Protocol):
    async def send_sms(self, number: str, text: str, idempotency_key: str) -> bool:
        """Queue ``text`` for ``number``; True once it is accepted for delivery. The same key
        twice must send once. Called on the call's event loop: database work goes to a thread."""
        ...


class NoOutbox:
    """The default until an outbox is wired into ``build_services``: nothing can be sent."""

    async def send_sms(self, number: str, text: str, idempotency_key: str) -> bool:
        logger.warning("voice.sms_unavailable", extra={"idempotency_key": idempotency_key})
        return False


def caller_number(raw: str) -> str:
    """The caller id as a number an SMS can go to; empty when withheld or not a number."""
    number = re.sub(r"[\s.()-]", "", raw or "")
    return number if _NUMBER_RE.fullmatch(number) else ""


class SmsOffer:
    """One call's offer of its latest long answer by SMS ("bấm phím 1"), valid until the next
    answer; pressing 1 again confirms without sending a second message."""

    def __init__(self, outbox: MessageOutbox, call_id: str, number: str) -> None:
        self.outbox, self.call_id, self.number = outbox, call_id, caller_number(number)
        self._text = ""
        self._key = ""
        self._sent: set[str] = set()

    @property
    def pending(self) -> bool:
        return bool(self._text)

    def follow_ups(self, turn: int, full_text: str, later: str) -> list[str]:
        """The prompts after an answer: with a rest still to tell, the offer to hear it and,
        when the caller's number is known, to get the whole answer by SMS."""
        if not later:
            self.withdraw()
            return []
        return [prompts.WANT_DETAILS, *([prompts.SMS_OFFER] if self.offer(turn, full_text) else [])]

    def offer(self, turn: int, full_text: str) -> bool:
        """Remember a long answer; True when it can be offered (the caller's number is known)."""
        self.withdraw()
        if not self.number:
            return False
        self._text = " ".join(_MARKDOWN_RE.sub("", full_text).split())
        self._key = f"voice:{self.call_id}:{turn}:sms"
        return bool(self._text)

    def withdraw(self) -> None:
        self._text = self._key = ""

    async def send(self) -> str:
        """Send the pending answer once; what to tell the caller."""
        if self._key in self._sent:
            return prompts.SMS_SENT
        try:
            accepted = await self.outbox.send_sms(self.number, self._text, self._key)
        except Exception:
            logger.exception("voice.sms_failed", extra={"call_id": self.call_id})
            accepted = False
        if not accepted:
            return prompts.SMS_FAILED
        self._sent.add(self._key)
        logger.info("voice.sms_sent", extra={"call_id": self.call_id, "idempotency_key": self._key})
        return prompts.SMS_SENT
