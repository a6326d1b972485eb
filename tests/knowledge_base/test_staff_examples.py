"""Staff examples for the ranker: FAQ questions plus the wordings staff linked to a procedure
from the inbox or the handoff desk, each question and procedure once."""

from __future__ import annotations

from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from knowledge_base.models import Base, CurationStatus, FaqEntry, WordingLink
from knowledge_base.ranking.pipeline import staff_examples
from knowledge_base.ranking.training import Example


def link(question: str, code: str, source: str = "inbox") -> WordingLink:
    return WordingLink(question=question, procedure_code=code, source=source, actor="editor1")


def test_links_are_examples_once_each():
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        session.add_all(
            [
                FaqEntry(
                    questions=["khai sinh cần gì"],
                    answer="...",
                    procedure_codes=["1.001"],
                    status=CurationStatus.PUBLISHED,
                ),
                link("khai sinh cần gì", "1.001"),  # already a FAQ question for that procedure
                link("xe buýt số 5 chạy mấy giờ", "2.002"),
                link("xe buýt số 5 chạy mấy giờ", "2.002", "handoff"),
                link("xe buýt số 5 chạy mấy giờ", "3.003", "handoff"),
                link("   ", "2.002"),
            ]
        )
        session.commit()
        examples = staff_examples(session)
    assert examples == [
        Example("khai sinh cần gì", ("1.001",), "staff"),
        Example("xe buýt số 5 chạy mấy giờ", ("2.002",), "staff"),
        Example("xe buýt số 5 chạy mấy giờ", ("3.003",), "staff"),
    ]
