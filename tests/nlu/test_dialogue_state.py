"""The stored dialogue state: what it keeps, what a damaged row reads as, and that it is the
same state whether Rasa or degraded mode answered the last turn."""

import pytest

from knowledge_base.db import session_scope
from nlu import dialogue_state
from nlu.chat import ChatService
from nlu.dialogue_state import LIST_OPEN_TURNS, DialogueState
from nlu.models import DialogueStateRow


def test_slot_events_are_recorded_with_the_turn_they_were_set_at():
    state = DialogueState(turn=3)
    state.apply(
        [
            {"event": "slot", "name": "candidates", "value": ["1.001456", "1.001471"]},
            {"event": "slot", "name": "pending_question", "value": "lệ phí hộ chiếu"},
            {"event": "slot", "name": "last_aspect", "value": "fee"},
            {"event": "bot", "text": "ignored"},
        ]
    )
    assert state.candidates == ["1.001456", "1.001471"] and state.candidates_turn == 3
    assert state.aspect == "fee" and state.aspect_turn == 3
    state.turn = 4
    state.apply([{"event": "slot", "name": "procedure_code", "value": "1.001456"}])
    assert state.procedure_turn == 4 and not state.candidates_are_newer()


def test_an_offered_list_closes_after_a_few_turns():
    state = DialogueState(turn=1, candidates=["a", "b"], candidates_turn=1)
    assert state.open_candidates() == ["a", "b"]
    state.turn += LIST_OPEN_TURNS + 1
    assert state.open_candidates() == [] and state.as_slots()["candidates"] is None


def test_forms_keep_their_values_until_they_end():
    state = DialogueState()
    state.start_form("dossier")
    state.apply([{"event": "slot", "name": "dossier_code", "value": "***-0001"}])
    assert state.form_slots == {"dossier_code": "***-0001"}
    state.apply([{"event": "slot", "name": "dossier_code", "value": None}])
    assert state.form_slots == {}
    state.apply([{"event": "slot", "name": "awaiting_rating", "value": True}])
    assert state.form == "rating" and state.as_slots()["awaiting_rating"]


@pytest.mark.parametrize("stored", ["", "not json", "[1, 2]", '{"turn": "many", "x": 1}'])
def test_a_damaged_row_reads_as_a_fresh_state(stored: str):
    state = DialogueState.from_json(stored)
    assert state.procedure_code is None and state.candidates == []


def test_unknown_keys_are_ignored_and_known_ones_kept():
    state = DialogueState.from_json('{"procedure_code": "1.001193", "future_field": 1}')
    assert state.procedure_code == "1.001193"
    assert DialogueState.from_json(state.to_json()) == state


@pytest.fixture
def service(offline_chat: ChatService) -> ChatService:
    return offline_chat


async def test_each_citizen_turn_is_counted_and_the_state_stored(service: ChatService):
    first = await service.handle(None, "đăng ký khai sinh cần giấy tờ gì")
    await service.handle(first.session_id, "lệ phí bao nhiêu")
    with session_scope(service.engine) as session:
        state = dialogue_state.load(session, first.session_id)
    assert state is not None and state.turn == 2
    assert state.procedure_code == "1.001193" and state.aspect == "fee"


def test_nothing_is_stored_for_a_conversation_that_does_not_exist(service: ChatService):
    with session_scope(service.engine) as session:
        dialogue_state.save(session, "no-such-conversation", DialogueState(turn=1))
    with session_scope(service.engine) as session:
        assert session.get(DialogueStateRow, "no-such-conversation") is None
