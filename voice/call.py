"""The call flow, written once for every transport: greeting, question and answer in a loop,
barge-in, silence handling, the keypad menu, dossier look-up, transfer and the rating."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from knowledge_base import log_context
from knowledge_base.db import session_scope
from knowledge_base.metrics import VOICE_TURN_SECONDS
from nlu.actions import ActionServer
from nlu.chat import ChatService
from nlu.models import Rating, VoiceCall
from voice import prompts
from voice.capacity import CallSlots
from voice.frames import CallEnded, HangUp, OutboundFrame, Transfer
from voice.listener import CallerInput, Listener
from voice.outbound import MessageOutbox, NoOutbox, SmsOffer
from voice.playback import Player
from voice.stt import SpeechRecognizer
from voice.tts.engines import SpokenText

logger = logging.getLogger(__name__)
Send = Callable[[OutboundFrame], Awaitable[None]]
KEYPAD_DOSSIER_DIGITS = 19  # 000.00.12.H55-240101-0001 without its one letter
GOODBYE_LIMIT_S = 15.0  # the time-limit goodbye, even to a peer that stopped reading
END_GRACE_S = 5.0  # for a call to wind up once its line has closed
BUSY_PROMPT_LIMIT_S = 8.0


@dataclass
class VoiceServices:
    """What every call of a voice worker shares: one model per process, one pool."""

    chat: ChatService
    actions: ActionServer
    engine: Engine
    recognizer: SpeechRecognizer
    speech: SpokenText
    pool: Executor
    slots: CallSlots  # the process's one cap on concurrent calls, whatever the transport
    province: str = "tỉnh"
    dossier_letter: str = "H"  # the province letter of dossier codes, not on a keypad
    silence_s: float = 7.0
    key_timeout_s: float = 10.0
    max_call_s: float = 900.0
    outbox: MessageOutbox = field(default_factory=NoOutbox)  # long answers by SMS


@dataclass
class CallMetrics:
    turn_latencies_s: list[float] = field(default_factory=list)
    barge_ins: int = 0


def keypad_dossier_code(digits: str, letter: str) -> str | None:
    if len(digits) != KEYPAD_DOSSIER_DIGITS or not digits.isdigit():
        return None
    d = digits
    return f"{d[0:3]}.{d[3:5]}.{d[5:7]}.{letter}{d[7:9]}-{d[9:15]}-{d[15:19]}"


class CallSession:
    def __init__(
        self,
        services: VoiceServices,
        send: Send,
        call_id: str,
        transport: str,
        caller_number: str = "",  # the caller id, where the transport passes it on
    ) -> None:
        self.services, self.send, self.call_id, self.transport = services, send, call_id, transport
        self.sms = SmsOffer(services.outbox, call_id, caller_number)
        self.player = Player(send)
        self.listener = Listener(services.recognizer, services.pool, on_barge_in=self._barge_in)
        self.metrics = CallMetrics()
        self.outcome = "in_progress"
        self.turns = 0
        self._details = ""  # the rest of a long answer, offered on request

    # --- plumbing ---------------------------------------------------------------------------
    async def _barge_in(self) -> None:
        if self.player.playing:
            self.metrics.barge_ins += 1
            await self.player.clear()

    async def _blocking(self, work: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.services.pool, work, *args)

    async def say(self, text: str, cache: bool = False) -> None:
        """Queue the text's audio; returns once the first sentence is playing (the rest is
        synthesised meanwhile), so a long answer starts as fast as a short one."""
        first, rest = prompts.first_sentence(text) if not cache else (text, "")
        audio = await self._blocking(self.services.speech.say, first, cache)
        if self.listener.ended.is_set():
            return
        clears = self.player.clears
        self.player.enqueue(audio)
        if rest:
            more = await self._blocking(self.services.speech.say, rest, False)
            if self.player.clears == clears:  # not interrupted meanwhile
                self.player.enqueue(more, continuation=True)

    async def say_and_wait(self, text: str, cache: bool = False) -> None:
        await self.say(text, cache)
        await self._played_or_gone()

    async def _played_or_gone(self) -> None:
        done = asyncio.create_task(self.player.wait_done())
        gone = asyncio.create_task(self.listener.ended.wait())
        await asyncio.wait({done, gone}, return_when=asyncio.FIRST_COMPLETED)
        for task in (done, gone):
            task.cancel()

    async def hear(self, silence_s: float | None = None) -> CallerInput | None:
        await self._played_or_gone()  # silence is counted from the end of the prompt
        return await self.listener.next_input(silence_s or self.services.silence_s)

    # --- the call ---------------------------------------------------------------------------
    async def run(self) -> str:
        log_context.call_id.set(self.call_id)  # this call's task and the tasks it starts
        await self._blocking(self._store_start)
        self.player.start()
        listening: asyncio.Task[None] | None = None
        try:
            await self.listener.open()
            listening = asyncio.create_task(self.listener.run(), name=f"listen-{self.call_id}")
            await self._converse_in_time()
        except Exception:
            # Never leave a caller in silence: apologise and hand them to a person.
            logger.exception("voice.call_failed", extra={"call_id": self.call_id})
            self.outcome = "error"
            with contextlib.suppress(Exception):
                await self.say_and_wait(prompts.SORRY_TRANSFER, cache=True)
            await self.send(Transfer("error"))
        finally:
            if listening is not None:
                listening.cancel()
                await asyncio.gather(listening, return_exceptions=True)
            await self.player.stop()
            if self.listener.dropped_frames:
                logger.warning(
                    "voice.inbound_dropped",
                    extra={"call_id": self.call_id, "frames": self.listener.dropped_frames},
                )
            await self._blocking(self._store_end)
        return self.outcome

    async def _converse_in_time(self) -> None:
        """The conversation, ended after ``max_call_s`` with a short goodbye."""
        limit = asyncio.timeout(self.services.max_call_s)
        try:
            async with limit:
                await self._converse()
        except TimeoutError:
            if not limit.expired():
                raise
            self.outcome = "time_limit"
            logger.info(
                "voice.time_limit",
                extra={"call_id": self.call_id, "limit_s": self.services.max_call_s},
            )
            await self.player.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(GOODBYE_LIMIT_S):
                    await self.say_and_wait(prompts.TIME_LIMIT, cache=True)
            await self.send(HangUp(self.outcome))

    async def _converse(self) -> None:
        await self.say(prompts.greeting(self.services.province), cache=True)
        silences = 0
        while True:
            heard = await self.hear()
            if heard is None:
                silences += 1
                if silences == 1:
                    await self.say(prompts.REPROMPT, cache=True)
                elif silences == 2:
                    await self.say(prompts.MENU, cache=True)
                else:
                    self.outcome = "silence"
                    await self._goodbye(rate=False)
                    return
                continue
            silences = 0
            if heard.kind == "hangup":
                self.outcome = "hung_up" if heard.text == "hangup" else "error"
                return
            if heard.kind == "dtmf":
                if await self._keypad(heard.text):
                    return
                continue
            if not heard.text:
                await self.say(prompts.DID_NOT_HEAR, cache=True)
                continue
            if await self._spoken(heard):
                return

    async def _spoken(self, heard: CallerInput) -> bool:
        """One recognised utterance; True when the call is over."""
        if self._details and prompts.is_yes(heard.text):
            details, self._details = self._details, ""
            await self._answer_audio(details, heard.speech_ended_at)
            return False
        self._details = ""
        if prompts.is_goodbye(heard.text):
            self.outcome = "completed"
            await self._goodbye(rate=True)
            return True
        heard_at = time.monotonic()
        reply = await self.services.chat.handle(self.call_id, heard.text, channel="phone")
        answered_at = time.monotonic()
        self.turns += 1
        if reply.handoff:
            await self._transfer()
            return True
        text = " ".join(m.text for m in reply.messages) or prompts.DID_NOT_HEAR
        now, later = prompts.for_the_ear(text)
        self._details = later
        clears = self.player.clears
        await self._answer_audio(now, heard.speech_ended_at)
        # The dialogue asked for a code or phone digits: give the caller time between digits.
        self.listener.detector.digits_mode = prompts.asks_for_digits(text)
        if self.player.first_frame_at is not None:
            VOICE_TURN_SECONDS.observe(self.player.first_frame_at - heard.speech_ended_at)
        logger.info(
            "voice.turn",
            extra={
                "call_id": self.call_id,
                "recognised_s": round(heard_at - heard.speech_ended_at, 3),
                "dialogue_s": round(answered_at - heard_at, 3),
                "speaking_s": round((self.player.first_frame_at or answered_at) - answered_at, 3),
            },
        )
        # nothing more is offered to a caller who has already interrupted the answer
        interrupted = self.player.clears != clears
        for offer in self.sms.follow_ups(self.turns, text, "" if interrupted else later):
            if self.player.clears == clears:
                await self.say(offer, cache=True)
        return False

    async def _answer_audio(self, text: str, speech_ended_at: float) -> None:
        await self.say(text)
        await self.player.wait_sending()
        if speech_ended_at and self.player.first_frame_at is not None:
            self.metrics.turn_latencies_s.append(self.player.first_frame_at - speech_ended_at)

    # --- keypad -----------------------------------------------------------------------------
    async def _keypad(self, digit: str) -> bool:
        if digit == "1" and self.sms.pending:
            await self.say(await self.sms.send(), cache=True)
        elif digit == "1":
            await self.say(prompts.ASK_PROCEDURE, cache=True)
        elif digit == "2":
            await self._dossier_by_keypad()
        elif digit == "0":
            await self._transfer()
            return True
        elif digit == "*" and self._details:
            await self.say(self._details)
        else:
            await self.say(f"{prompts.NOT_UNDERSTOOD_KEY} {prompts.MENU}")
        return False

    async def _collect_digits(self, prompt: str) -> str | None:
        """Keys until '#' (or spoken digits); None when the caller goes quiet."""
        await self.say(prompt, cache=True)
        self.listener.detector.digits_mode = True
        await self._blocking(self.listener.stream.set_phrases, prompts.DIGIT_WORDS)
        digits = ""
        try:
            while True:
                heard = await self.hear(self.services.key_timeout_s)
                if heard is None or heard.kind == "hangup":
                    return None
                if heard.kind == "speech":
                    return digits + prompts.spoken_digits(heard.text)
                if heard.text == "#":
                    return digits
                if heard.text.isdigit():
                    digits += heard.text
        finally:
            self.listener.detector.digits_mode = False
            await self._blocking(self.listener.stream.set_phrases, None)

    async def _dossier_by_keypad(self) -> None:
        self.sms.withdraw()  # key 1 means the menu again, not the previous answer by SMS
        digits = await self._collect_digits(prompts.DOSSIER_CODE)
        code = keypad_dossier_code(digits or "", self.services.dossier_letter)
        if code is None:
            await self.say(f"{prompts.DOSSIER_BAD_CODE} {prompts.MENU}", cache=True)
            return
        last4 = await self._collect_digits(prompts.DOSSIER_PHONE)
        if not last4:
            return
        # The same action as the chat: same second factor, same uniform failure, same limits.
        body = {
            "next_action": "action_check_dossier",
            "sender_id": self.call_id,
            "tracker": {"slots": {"dossier_code": code, "phone_last4": last4[-4:]}},
        }
        result = await self._blocking(self.services.actions.run, body)
        replies = [str(r.get("text") or "") for r in result.get("responses", [])]
        await self._blocking(
            lambda: self.services.chat.record_exchange(
                self.call_id,
                f"[bàn phím] tra cứu hồ sơ {code}",
                replies,
                "phone",
                intent="check_dossier",
            )
        )
        self.turns += 1
        await self.say(" ".join(replies))

    # --- endings ----------------------------------------------------------------------------
    async def _transfer(self) -> None:
        self.outcome = "transferred"
        await self.say_and_wait(prompts.TRANSFER, cache=True)  # never cut off mid-sentence
        await self.send(Transfer())
        # The operator takes the call on the phone system, not on the web desk.
        await self._blocking(self.services.chat.release, self.call_id)

    async def _goodbye(self, rate: bool) -> None:
        if rate:
            await self.say(prompts.ASK_RATING, cache=True)
            heard = await self.hear(self.services.key_timeout_s)
            score = None
            if heard is not None and heard.kind in {"dtmf", "speech"}:
                digits = heard.text if heard.kind == "dtmf" else prompts.spoken_digits(heard.text)
                score = int(digits[0]) if digits[:1] in {"1", "2", "3", "4", "5"} else None
            if score is not None:
                await self._blocking(self._store_rating, score)
                await self.say(prompts.THANKS_RATING, cache=True)
        await self.say_and_wait(prompts.GOODBYE, cache=True)
        await self.send(HangUp(self.outcome))

    # --- storage (worker threads) -------------------------------------------------------------
    def _store_start(self) -> None:
        with session_scope(self.services.engine) as session:
            if session.get(VoiceCall, self.call_id) is None:
                session.add(
                    VoiceCall(id=self.call_id, transport=self.transport, caller=self.sms.number)
                )

    def _store_end(self) -> None:
        with session_scope(self.services.engine) as session:
            call = session.get(VoiceCall, self.call_id)
            if call is not None:
                call.outcome, call.turns, call.ended_at = (
                    self.outcome,
                    self.turns,
                    datetime.now(UTC),
                )

    def _store_rating(self, score: int) -> None:
        with session_scope(self.services.engine) as session:
            session.add(Rating(conversation_id=self.call_id, score=score))


async def serve(session: CallSession, line_closed: asyncio.Event) -> str:
    """Run a call until it ends or its line closes: the one ending for every transport. Whatever
    the peer does (stops reading, never hangs up), the call is over within its time limit plus
    the goodbye and a grace period."""
    services = session.services
    call = asyncio.create_task(session.run(), name=f"call-{session.call_id}")
    closed = asyncio.create_task(line_closed.wait())
    try:
        done, _ = await asyncio.wait(
            {call, closed},
            timeout=services.max_call_s + GOODBYE_LIMIT_S + END_GRACE_S,
            return_when=asyncio.FIRST_COMPLETED,
        )
        if not done:
            logger.warning("voice.call_overran", extra={"call_id": session.call_id})
        if not call.done():
            session.listener.offer(CallEnded("line_closed"))
            await asyncio.wait({call}, timeout=END_GRACE_S)
    finally:
        for task in (call, closed):
            task.cancel()
        await asyncio.gather(call, closed, return_exceptions=True)
    return session.outcome


async def say_busy(services: VoiceServices, send: Send) -> None:
    """The refusal when the line is full: the cached busy prompt, paced, then hang up. Nothing
    is synthesised for it: a full line has no CPU to spare."""
    audio = services.speech.cached(prompts.BUSY)
    if audio:
        player = Player(send)
        player.start()
        player.enqueue(audio)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(BUSY_PROMPT_LIMIT_S):
                await player.wait_done()
        await player.stop()
    await send(HangUp("busy"))
