"""Each kind of refusal says what went wrong (knowledge_base/answer/refusals.py)."""

import pytest

from knowledge_base.answer.refusals import is_not_understood
from knowledge_base.db import session_scope
from knowledge_base.facts import clear, save
from knowledge_base.service import KnowledgeBase


@pytest.mark.parametrize("question", ["ờ ừm", "alo alo", "dạ vâng", "asdfgh qwerty", "?!"])
def test_nothing_to_go_on_is_not_understood(question: str):
    assert is_not_understood(question, recognised=False)


@pytest.mark.parametrize("question", ["cmnd", "lam ho chieu", "xin cấp lại cccd"])
def test_short_or_abbreviated_questions_are_understood(question: str):
    assert not is_not_understood(question, recognised=True)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("asdfgh qwerty", "not_understood"),
        ("ờ ừm", "not_understood"),
        ("cấp giấy phép kinh doanh karaoke", "not_in_province"),  # no such record here
        ("xin cap lai so do bi mat", "not_in_province"),
        ("thời tiết ngày mai thế nào", "out_of_scope"),
        ("mua điện thoại nào tốt", "out_of_scope"),
    ],
)
def test_refusal_kinds(sample_kb: KnowledgeBase, question: str, kind: str):
    result = sample_kb.ask(question)
    assert not result.answerable and result.refusal_kind == kind


@pytest.mark.slow
def test_a_figure_not_entered_yet_is_said_so_and_answered_once_entered(sample_kb: KnowledgeBase):
    question = "tỉnh mình có bao nhiêu dịch vụ công trực tuyến"
    missing = sample_kb.ask(question)
    assert missing.refusal_kind == "figure_missing" and "chưa được cập nhật" in missing.answer
    with session_scope(sample_kb.engine) as session:
        save(session, "admin", "online_services", "1.245")
    sample_kb.facts.forget()
    try:
        answered = sample_kb.ask(question)
        assert answered.answerable and "1.245" in answered.answer
    finally:
        with session_scope(sample_kb.engine) as session:
            clear(session, "admin", "online_services")
        sample_kb.facts.forget()


@pytest.mark.slow
def test_a_new_buyers_vehicle_registration_is_no_shopping_question(sample_kb: KnowledgeBase):
    result = sample_kb.ask("dang ky xe may moi mua o dau")
    assert result.answerable and result.procedures[0].code == "1.012575"
