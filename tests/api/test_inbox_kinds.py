"""The unanswered inbox keeps the kinds of refusal apart (nlu/inbox.py, its API and page)."""

from pathlib import Path

from fastapi.testclient import TestClient

from api.main import create_app
from knowledge_base.db import session_scope
from nlu import inbox
from nlu.chat import OfflineDialogue
from nlu.models import ChatTurn, Conversation, TurnRole
from tests.api.conftest import staffed_kb
from tests.api.test_admin_faq import login


def _exchange(session, conversation_id: str, question: str, **reply: object) -> None:
    session.add(Conversation(id=conversation_id))
    session.flush()
    session.add(ChatTurn(conversation_id=conversation_id, role=TurnRole.CITIZEN, text=question))
    session.add(ChatTurn(conversation_id=conversation_id, role=TurnRole.BOT, text="…", **reply))


def test_groups_carry_why_they_were_not_answered_and_filter_by_it(tmp_path: Path):
    kb = staffed_kb(tmp_path)
    with session_scope(kb.engine) as session:
        _exchange(session, "c1", "thời tiết mai thế nào", answered=False, reply_kind="out_of_scope")
        _exchange(session, "c2", "xin giấy phép", answered=None, reply_kind="not_sure")
        _exchange(
            session, "c3", "bao nhiêu dịch vụ công", answered=False, reply_kind="figure_missing"
        )
        _exchange(session, "c4", "câu hỏi cũ", answered=False)  # stored before reply kinds
        _exchange(session, "c5", "đăng ký khai sinh", answered=True, reply_kind="answer")
        _exchange(session, "c6", "làm hộ chiếu", answered=None, reply_kind="choose")
    with session_scope(kb.engine) as session:
        kinds = {g.question: g.kind for g in inbox.unanswered(session)}
        assert kinds == {
            "thời tiết mai thế nào": "out_of_scope",
            "xin giấy phép": "not_sure",
            "bao nhiêu dịch vụ công": "figure_missing",
            "câu hỏi cũ": "unanswered",
        }
        only = inbox.unanswered(session, kind="not_sure")
        assert [g.question for g in only] == ["xin giấy phép"]
    with TestClient(create_app(kb=kb, dialogue=OfflineDialogue())) as client:
        login(client, "editor1")
        listed = client.get("/api/v1/admin/inbox", params={"kind": "figure_missing"}).json()
        assert [(g["question"], g["kind"]) for g in listed] == [
            ("bao nhiêu dịch vụ công", "figure_missing")
        ]
        assert client.get("/api/v1/admin/inbox", params={"kind": "nonsense"}).status_code == 422
        page = client.get("/staff/inbox", params={"kind": "out_of_scope"}).text
        assert "thời tiết mai thế nào" in page and "xin giấy phép" not in page
        assert "Ngoài phạm vi" in page and "Chưa chắc thủ tục nào" in page  # the filter links
