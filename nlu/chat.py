"""The chat front door: Rasa's REST channel with a knowledge-base fallback, transcripts and
the human handoff desk.

Personal data is masked (``nlu.privacy``) before a turn is stored and before the citizen's
text goes to Rasa; the raw values the dossier look-up and a ticket's contact need are kept
briefly beside the conversation (``nlu.raw_values``).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

import httpx
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from knowledge_base import log_context
from knowledge_base.db import session_scope
from knowledge_base.metrics import ANSWERS, DEGRADED_TURNS, count_answer
from knowledge_base.service import KnowledgeBase
from nlu import dialogue_state, privacy
from nlu.actions import ActionServer
from nlu.chat_sessions import SessionStatus, session_status
from nlu.degraded_dialogue import DegradedDialogue
from nlu.dossiers import MemoryAttemptLimiter
from nlu.models import ChatTurn, Conversation, ConversationState, TurnRole
from nlu.raw_values import RawValues, shared_raw_values

logger = logging.getLogger(__name__)


class DialogueUnavailableError(RuntimeError):
    """Rasa did not answer in time or is down."""


class DialogueEngine(Protocol):
    async def send(
        self, sender_id: str, text: str, metadata: dict[str, Any]
    ) -> list[dict[str, Any]]: ...


class RasaRestClient:
    """Rasa's REST input channel (``/webhooks/rest/webhook``). ``base_url`` may list several
    Rasa processes, comma-separated (one process uses one core): a conversation always goes
    to the same one, chosen by a hash of its id, so its turns never contend for its lock."""

    def __init__(self, base_url: str, timeout_s: float) -> None:
        self._urls = [
            url.strip().rstrip("/") + "/webhooks/rest/webhook"
            for url in base_url.split(",")
            if url.strip()
        ]
        # connections kept open between turns, dropped before Sanic's 5 s keep-alive ends
        # (a turn is never sent on a connection Rasa is closing)
        limits = httpx.Limits(max_keepalive_connections=64, keepalive_expiry=4)
        self._client = httpx.AsyncClient(timeout=timeout_s, limits=limits)

    def url_for(self, sender_id: str) -> str:
        digest = hashlib.blake2b(sender_id.encode(), digest_size=4).digest()
        return self._urls[int.from_bytes(digest, "big") % len(self._urls)]

    async def send(
        self, sender_id: str, text: str, metadata: dict[str, Any]
    ) -> list[dict[str, Any]]:
        body = {"sender": sender_id, "message": text, "metadata": metadata}
        try:
            response = await self._client.post(self.url_for(sender_id), json=body)
            response.raise_for_status()
            messages = response.json()
        except (httpx.HTTPError, ValueError) as exc:  # ValueError: a body that is not JSON
            raise DialogueUnavailableError(f"{type(exc).__name__}: {exc}") from exc
        if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
            raise DialogueUnavailableError("Rasa answered something other than a message list")
        return messages

    async def aclose(self) -> None:
        await self._client.aclose()


class OfflineDialogue:
    """No dialogue engine configured (``HOTLINE_RASA_URL`` empty): every turn is answered from
    the knowledge base alone, flagged ``degraded``. Also the test double for an engine that is
    down."""

    async def send(
        self, sender_id: str, text: str, metadata: dict[str, Any]
    ) -> list[dict[str, Any]]:
        raise DialogueUnavailableError("no dialogue engine configured")


@dataclass
class ChatMessage:
    text: str
    buttons: list[dict[str, str]] = field(default_factory=list)


@dataclass
class ChatReply:
    session_id: str
    messages: list[ChatMessage]
    handoff: bool
    degraded: bool
    kind: str | None = None  # nlu.action_turn.ReplyKind of the turn's main reply
    procedure_code: str | None = None  # the procedure the turn answered about, if one


def new_session_id() -> str:
    return secrets.token_urlsafe(18)


class ChatService:
    def __init__(
        self,
        kb: KnowledgeBase,
        engine: Engine,
        dialogue: DialogueEngine,
        raw_values: RawValues | None = None,
        actions: ActionServer | None = None,
    ) -> None:
        self.kb, self.engine, self.dialogue = kb, engine, dialogue
        self.raw_values = raw_values or shared_raw_values(kb.settings)
        actions = actions or ActionServer(kb, engine, MemoryAttemptLimiter(), self.raw_values)
        self.degraded_dialogue = DegradedDialogue(actions)

    async def handle(
        self, session_id: str | None, message: str, channel: str = "web", client: str = ""
    ) -> ChatReply:
        """One citizen turn; ``client`` (a keyed hash of the address) is kept with a new
        conversation so that limits inside the dialogue can count per client."""
        # NFC (decomposed accents halve Rasa's accuracy) but the citizen's own casing, which
        # staff read in transcripts and feedback.
        said = privacy.mask(unicodedata.normalize("NFC", message).strip())
        text = said.text  # stored, searched and sent to Rasa, whose tracker keeps all it gets
        conversation_id = session_id or new_session_id()
        started = time.perf_counter()
        state = await run_in_threadpool(
            self._record_citizen, conversation_id, said, channel, client
        )
        if state is ConversationState.WAITING_HUMAN:
            return ChatReply(conversation_id, [], handoff=True, degraded=False)
        degraded = False
        try:
            metadata = {"text": text, "request_id": log_context.request_id.get()}
            raw = await self.dialogue.send(conversation_id, text, metadata)
        except DialogueUnavailableError as exc:
            logger.warning("chat.degraded", extra={"error": str(exc)})
            degraded = True
            raw = await run_in_threadpool(self.degraded_dialogue.respond, conversation_id, text)
        latency_ms = (time.perf_counter() - started) * 1000
        messages, metas = _split(raw)
        handoff = any(m.get("handoff") for m in metas)
        _count(channel, metas, handoff, degraded)
        await run_in_threadpool(
            self._record_bot, conversation_id, messages, metas, degraded, latency_ms, said.values
        )
        main: dict[str, Any] = next((m for m in reversed(metas) if m.get("kind")), {})
        return ChatReply(
            conversation_id,
            messages,
            handoff=handoff,
            degraded=degraded,
            kind=main.get("kind"),
            procedure_code=next(
                (m["procedure_code"] for m in metas if m.get("procedure_code")), None
            ),
        )

    def status(self, conversation_id: str) -> SessionStatus:
        """Whether a web chat can still be read and continued under its session id."""
        idle = timedelta(minutes=self.kb.settings.chat_session_idle_minutes)
        with session_scope(self.engine) as session:
            return session_status(session, conversation_id, idle)

    # --- blocking helpers (worker threads) -----------------------------------------------
    def _record_citizen(
        self, conversation_id: str, said: privacy.Masked, channel: str, client: str
    ) -> ConversationState:
        self.raw_values.keep(conversation_id, said.findings)
        with session_scope(self.engine) as session:
            conversation = session.get(Conversation, conversation_id)
            if conversation is None:
                conversation = _opened(session, conversation_id, channel, client)
            session.add(
                ChatTurn(conversation_id=conversation_id, role=TurnRole.CITIZEN, text=said.text)
            )
            dialogue_state.next_turn(session, conversation_id)
            return ConversationState(conversation.state or ConversationState.BOT)

    def _citizen_values(self, conversation_id: str) -> set[str]:
        return set(self.raw_values.recall(conversation_id).values())

    def _record_bot(
        self,
        conversation_id: str,
        messages: list[ChatMessage],
        metas: list[dict[str, Any]],
        degraded: bool,
        latency_ms: float,
        citizen_values: Collection[str] = (),
    ) -> None:
        own = self._citizen_values(conversation_id) | set(citizen_values)
        with session_scope(self.engine) as session:
            for message, meta in zip(messages, metas, strict=True):
                session.add(
                    ChatTurn(
                        conversation_id=conversation_id,
                        role=TurnRole.BOT,
                        text=privacy.mask_reply(message.text, own),
                        intent=meta.get("intent"),
                        confidence=meta.get("confidence"),
                        procedure_code=meta.get("procedure_code"),
                        answered=meta.get("answered"),
                        reply_kind=meta.get("kind"),
                        degraded=degraded,
                        latency_ms=round(latency_ms, 1),
                    )
                )

    def record_exchange(
        self, conversation_id: str, said: str, replies: list[str], channel: str, **meta: Any
    ) -> None:
        """A turn handled outside the dialogue engine (a phone keypad menu), kept in the same
        transcript so analytics and the inbox see it."""
        masked = privacy.mask(said)
        self._record_citizen(conversation_id, masked, channel, "")
        messages = [ChatMessage(text, []) for text in replies]
        metas = [dict(meta) for _ in messages]
        self._record_bot(conversation_id, messages, metas, False, 0.0, masked.values)

    # --- staff handoff desk ------------------------------------------------------------------
    def waiting(self) -> list[Conversation]:
        with session_scope(self.engine) as session:
            rows = session.scalars(
                select(Conversation)
                .where(Conversation.state == ConversationState.WAITING_HUMAN)
                .order_by(Conversation.updated_at)
            ).all()
            session.expunge_all()
            return list(rows)

    def transcript(
        self, conversation_id: str, after_id: int = 0, waiting_only: bool = False
    ) -> list[ChatTurn] | None:
        """None for an unknown conversation, or with ``waiting_only`` one not waiting for a
        person (editors see only those)."""
        with session_scope(self.engine) as session:
            if not _visible(session.get(Conversation, conversation_id), waiting_only):
                return None
            rows = session.scalars(
                select(ChatTurn)
                .where(ChatTurn.conversation_id == conversation_id, ChatTurn.id > after_id)
                .order_by(ChatTurn.id)
            ).all()
            session.expunge_all()
            return list(rows)

    def staff_reply(
        self, conversation_id: str, text: str, waiting_only: bool = False
    ) -> ChatTurn | None:
        with session_scope(self.engine) as session:
            if not _visible(session.get(Conversation, conversation_id), waiting_only):
                return None
            # the citizen reads this: an office's number stays, the citizen's own is masked
            text = privacy.mask_reply(text, self._citizen_values(conversation_id))
            turn = ChatTurn(conversation_id=conversation_id, role=TurnRole.STAFF, text=text)
            session.add(turn)
            session.flush()
            session.expunge(turn)
            return turn

    def release(self, conversation_id: str) -> bool:
        with session_scope(self.engine) as session:
            conversation = session.get(Conversation, conversation_id)
            if conversation is None:
                return False
            conversation.state = ConversationState.BOT
            return True


def _visible(conversation: Conversation | None, waiting_only: bool) -> bool:
    if conversation is None:
        return False
    return not waiting_only or conversation.state is ConversationState.WAITING_HUMAN


def _opened(session: Session, conversation_id: str, channel: str, client: str) -> Conversation:
    """Create the conversation; two first messages racing on one id both end up in the one
    row the faster of them inserted."""
    try:
        with session.begin_nested():
            conversation = Conversation(
                id=conversation_id, channel=channel, client_key=client or None
            )
            session.add(conversation)
        return conversation
    except IntegrityError:
        found = session.get(Conversation, conversation_id, populate_existing=True)
        assert found is not None
        return found


def _count(channel: str, metas: list[dict[str, Any]], handoff: bool, degraded: bool) -> None:
    if degraded:
        DEGRADED_TURNS.labels(channel).inc()
    if handoff:
        ANSWERS.labels(channel, "handoff").inc()
        return
    outcomes = [m["answered"] for m in metas if "answered" in m]
    count_answer(channel, outcomes[0] if outcomes else None)


def _split(raw: list[dict[str, Any]]) -> tuple[list[ChatMessage], list[dict[str, Any]]]:
    """Rasa output to chat messages plus the metadata our actions attach under ``custom``."""
    messages: list[ChatMessage] = []
    metas: list[dict[str, Any]] = []
    for item in raw:
        custom = item.get("custom") or {}
        text = str(item.get("text") or "")
        if not text:
            if metas and isinstance(custom, dict):
                metas[-1].update(custom.get("hotline") or {})
            continue
        buttons = [
            {"title": str(b.get("title", "")), "payload": str(b.get("payload", ""))}
            for b in item.get("buttons") or []
        ]
        messages.append(ChatMessage(text, buttons))
        metas.append(dict(custom.get("hotline") or {}) if isinstance(custom, dict) else {})
    return messages, metas
