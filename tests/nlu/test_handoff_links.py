"""Which of the citizen's messages a handoff procedure pick ties to the procedure."""

from __future__ import annotations

from nlu.handoff_links import handoff_questions
from nlu.models import ChatTurn, TurnRole


def citizen(text: str) -> ChatTurn:
    return ChatTurn(role=TurnRole.CITIZEN, text=text)


def bot(answered: bool | None = False, intent: str = "ask_procedure") -> ChatTurn:
    return ChatTurn(role=TurnRole.BOT, text="...", intent=intent, answered=answered)


def staff(text: str = "Chào anh, em nghe.") -> ChatTurn:
    return ChatTurn(role=TurnRole.STAFF, text=text)


def test_rephrasings_before_the_handoff_but_not_the_request_or_what_follows():
    turns = [
        citizen("đăng ký khai sinh cần gì"),
        bot(answered=True),
        citizen("Xe buýt số 5 chạy mấy giờ?"),
        bot(),
        citizen("xe buyt so 5 chay may gio"),
        bot(),
        citizen("/handoff"),
        bot(answered=None, intent="handoff"),
        citizen("alo có ai không"),  # said while waiting: the bot stays silent
        staff(),
        citizen("cảm ơn"),
    ]
    assert handoff_questions(turns) == ["Xe buýt số 5 chạy mấy giờ?", "xe buyt so 5 chay may gio"]


def test_a_typed_request_for_a_person_is_not_a_question():
    turns = [
        citizen("làm lại căn cước bị mất ở đâu"),
        bot(answered=True),
        citizen("cho tôi gặp nhân viên"),
        bot(answered=None, intent="handoff"),
    ]
    assert handoff_questions(turns) == ["làm lại căn cước bị mất ở đâu"]


def test_without_a_recorded_handoff_the_questions_before_staff_wrote():
    turns = [citizen("hỏi về đất đai"), bot(), citizen("có ai không"), staff(), citizen("dạ")]
    assert handoff_questions(turns) == ["hỏi về đất đai"]


def test_at_most_three_questions_and_none_without_any():
    turns = [turn for i in range(5) for turn in (citizen(f"câu hỏi {i}"), bot())]
    assert handoff_questions(turns) == ["câu hỏi 2", "câu hỏi 3", "câu hỏi 4"]
    assert handoff_questions([citizen("/handoff"), bot(None, "handoff"), staff()]) == []
