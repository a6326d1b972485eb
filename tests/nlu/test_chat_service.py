"""Chat transcripts and the handoff desk on SQLite and PostgreSQL (knowledge-base-only mode)."""

import pytest

from knowledge_base.db import session_scope
from nlu.chat import ChatService
from nlu.models import Conversation, ConversationState, TurnRole


@pytest.fixture
def service(offline_chat: ChatService) -> ChatService:
    return offline_chat


async def test_turns_are_stored_with_what_was_answered(service: ChatService):
    reply = await service.handle(None, "Đăng ký khai sinh cần giấy tờ gì")
    assert reply.degraded and reply.messages and not reply.handoff
    turns = service.transcript(reply.session_id)
    assert turns is not None
    citizen, bot = turns
    assert citizen.role is TurnRole.CITIZEN and citizen.text == "Đăng ký khai sinh cần giấy tờ gì"
    assert bot.role is TurnRole.BOT and bot.answered and bot.procedure_code == "1.001193"
    assert bot.degraded and bot.latency_ms is not None


async def test_waiting_conversation_is_silent_until_released(service: ChatService):
    reply = await service.handle(None, "xin chào")
    with session_scope(service.engine) as session:
        conversation = session.get(Conversation, reply.session_id)
        assert conversation is not None
        conversation.state = ConversationState.WAITING_HUMAN
    assert [c.id for c in service.waiting()] == [reply.session_id]
    quiet = await service.handle(reply.session_id, "alo")
    assert quiet.handoff and quiet.messages == []
    staff_turn = service.staff_reply(reply.session_id, "Chào anh")
    assert staff_turn is not None and staff_turn.role is TurnRole.STAFF
    assert service.release(reply.session_id)
    assert service.waiting() == []
    assert service.staff_reply("no-such-conversation", "x") is None
    assert not service.release("no-such-conversation")
