"""The Zalo OA channel end to end: signed webhook events in, the dialogue (actions run for
real behind a Rasa double), replies out to a local fake of the OA API."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from api.channels.zalo import followers, messages, signature
from api.channels.zalo.models import ZaloFollower
from api.main import create_app
from knowledge_base.db import session_scope
from knowledge_base.service import KnowledgeBase
from nlu.chat import ChatMessage
from nlu.models import ChatTurn, Conversation, ConversationState, Rating
from tests.api.channels.dialogue import RasaDouble
from tests.api.channels.fake_zalo import FakeZalo
from tests.api.channels.zalo_stack import (
    APP_ID,
    DOSSIER,
    DOSSIER_LAST4,
    OA_SECRET,
    buttons,
    conversation_of,
    deliver,
    event,
    new_user,
    say,
    settle,
)
from tests.conftest import make_settings


# --- signatures, replays, redelivery --------------------------------------------------------
def test_signature_good_bad_missing_and_tampered(client: TestClient, fake: FakeZalo) -> None:
    user = new_user()
    body = event("user_send_text", user, "đăng ký kết hôn cần gì")
    assert deliver(client, body, signed=False).status_code == 401
    wrong = deliver(client, body, secret="not-the-oa-secret")
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "unauthorized"
    raw = json.dumps(body, ensure_ascii=False).encode()
    good_mac = signature.sign(APP_ID, raw, body["timestamp"], OA_SECRET)
    tampered = raw.replace("kết hôn".encode(), b"khai sinh")
    refused = client.post(
        "/api/v1/channels/zalo/webhook", content=tampered, headers={signature.HEADER: good_mac}
    )
    assert refused.status_code == 401
    settle(client)
    assert fake.messages_to(user) == []
    assert deliver(client, body).json() == {"status": "accepted"}
    settle(client)
    assert "Đăng ký kết hôn" in fake.texts_to(user)[0]


def test_the_mac_is_sha256_of_app_id_body_timestamp_and_oa_secret() -> None:
    import hashlib

    raw, ts = b'{"event_name":"follow","timestamp":"1700000000000"}', "1700000000000"
    expected = hashlib.sha256(b"app" + raw + b"1700000000000" + b"key").hexdigest()
    assert signature.sign("app", raw, ts, "key") == "mac=" + expected
    assert signature.verified_timestamp("mac=" + expected, raw, "app", "key") == ts
    assert signature.verified_timestamp(expected.upper(), raw, "app", "key") == ts
    assert signature.verified_timestamp(None, raw, "app", "key") is None


def test_replayed_events_are_not_processed(client: TestClient, fake: FakeZalo) -> None:
    user = new_user()
    old = int((time.time() - 600) * 1000)
    stale = deliver(client, event("user_send_text", user, "lệ phí làm hộ chiếu", ts_ms=old))
    assert stale.status_code == 200 and stale.json() == {"status": "ignored"}
    future = int((time.time() + 600) * 1000)
    assert deliver(client, event("follow", user, ts_ms=future)).json() == {"status": "ignored"}
    body = event("user_send_text", user, "đăng ký kết hôn cần gì")
    assert deliver(client, body).json() == {"status": "accepted"}
    again = deliver(client, body)  # the same event delivered again
    assert again.status_code == 200 and again.json() == {"status": "duplicate"}
    # a replay re-signed with a fresh timestamp keeps its message id: still a duplicate
    replay = dict(body, timestamp=str(int(time.time() * 1000) + 1))
    assert deliver(client, replay).json() == {"status": "duplicate"}
    settle(client)
    assert len(fake.messages_to(user)) == 1


def test_follow_has_no_msg_id_and_is_deduplicated_by_body(
    client: TestClient, fake: FakeZalo
) -> None:
    user = new_user()
    body = event("follow", user)
    assert deliver(client, body).json() == {"status": "accepted"}
    assert deliver(client, body).json() == {"status": "duplicate"}
    settle(client)
    texts = fake.texts_to(user)
    assert len(texts) == 1 and texts[0].startswith(
        "Chào mừng anh/chị đến với Tổng đài dịch vụ công"
    )


def test_bad_json_unknown_events_and_unreadable_messages(
    client: TestClient, fake: FakeZalo
) -> None:
    broken = b'{"timestamp": "' + str(int(time.time() * 1000)).encode() + b'", "event_name": '
    answer = deliver(client, broken)
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "bad_request"
    no_timestamp = b'{"event_name": "follow", "follower": {"id": "1"}}'
    assert deliver(client, no_timestamp, timestamp="1700000000000").status_code == 401
    user = new_user()
    seen = event("user_seen_message", user)
    assert deliver(client, seen).json() == {"status": "ignored"}
    echo = event("oa_send_text", user, "x")
    assert deliver(client, echo).json() == {"status": "ignored"}
    sticker = event("user_send_sticker", user)
    assert deliver(client, sticker).json() == {"status": "accepted"}
    settle(client)
    assert [t[:30] for t in fake.texts_to(user)] == ["Xin lỗi, tổng đài hiện chỉ đọc"]
    assert "chỉ đọc được tin nhắn chữ" in say(client, fake, user, "???")[0]["text"]


def test_disabled_channel_answers_404(tmp_path: Path) -> None:
    kb = KnowledgeBase(make_settings(tmp_path))
    with TestClient(create_app(kb=kb)) as anonymous:
        assert anonymous.post("/api/v1/channels/zalo/webhook", content=b"{}").status_code == 404


# --- the dialogue through Zalo ---------------------------------------------------------------
def test_follow_then_question_answer_and_follow_up(client: TestClient, fake: FakeZalo) -> None:
    user = new_user()
    deliver(client, event("follow", user))
    settle(client)
    assert "Tổng đài dịch vụ công" in fake.texts_to(user)[0]
    answer = say(client, fake, user, "đăng ký kết hôn cần gì")
    assert len(answer) == 1 and "Đăng ký kết hôn" in answer[0]["text"]
    follow_up = say(client, fake, user, "còn lệ phí thì sao?")
    assert "mã 1.000894" in follow_up[0]["text"] and "lệ phí" in follow_up[0]["text"].lower()


def test_choosing_a_procedure_by_button(
    client: TestClient, fake: FakeZalo, rasa: RasaDouble
) -> None:
    user = new_user()
    offer = say(client, fake, user, "cấp hộ chiếu phổ thông mất bao lâu")
    options = buttons(offer[-1])
    assert len(options) >= 3 and options[-1]["payload"] == "/handoff"
    assert all(b["type"] == "oa.query.hide" for b in options)
    assert options[1]["payload"] == '/choose_option{"option":"2"}'
    chosen = say(client, fake, user, options[1]["payload"])  # what Zalo sends for the tap
    assert rasa.heard[-1] == '/choose_option{"option":"2"}'
    assert "cấp tỉnh" in chosen[0]["text"] and "Thời hạn" in chosen[0]["text"]


def test_dossier_look_up(client: TestClient, fake: FakeZalo) -> None:
    user = new_user()
    assert "mã hồ sơ" in say(client, fake, user, "tra cứu hồ sơ")[0]["text"]
    assert "4 số cuối" in say(client, fake, user, DOSSIER)[0]["text"]
    found = say(client, fake, user, DOSSIER_LAST4)[0]["text"]
    assert "Đang giải quyết" in found and "0042" in found and DOSSIER not in found


def test_feedback_ticket_and_rating(client: TestClient, fake: FakeZalo, kb: KnowledgeBase) -> None:
    user = new_user()
    assert "nội dung phản ánh" in say(client, fake, user, "tôi muốn phản ánh")[0]["text"]
    ticket = say(client, fake, user, "Trả hồ sơ trễ hẹn ba ngày ở bộ phận một cửa")[0]["text"]
    assert "PA-" in ticket
    asked = say(client, fake, user, "cảm ơn, tạm biệt")
    stars = buttons(asked[0])
    assert [b["title"] for b in stars] == ["5", "4", "3", "2", "1"]
    thanks = say(client, fake, user, stars[1]["payload"])
    assert "4/5" in thanks[0]["text"]
    with session_scope(kb.engine) as session:
        score = session.scalar(
            select(Rating.score).where(Rating.conversation_id == conversation_of(kb, user))
        )
    assert score == 4


def test_handoff_and_staff_replies_reach_zalo(
    client: TestClient, fake: FakeZalo, kb: KnowledgeBase
) -> None:
    user = new_user()
    handed = say(client, fake, user, "/handoff")
    assert "tổng đài viên" in handed[0]["text"]
    sid = conversation_of(kb, user)
    assert sid.startswith("zalo-") and user not in sid
    assert say(client, fake, user, "alo có ai không") == []  # the bot stays silent
    waiting = client.get("/api/v1/staff/conversations").json()
    assert {"id": sid, "channel": "zalo"}.items() <= next(
        c for c in waiting if c["id"] == sid
    ).items()
    reply = client.post(
        f"/api/v1/staff/conversations/{sid}/reply", json={"text": "Chào anh, em nghe."}
    )
    assert reply.status_code == 200
    settle(client)
    assert fake.texts_to(user)[-1] == "Chào anh, em nghe."
    # the staff site's desk page too
    page = client.post(f"/staff/handoff/{sid}/reply", data={"text": "Anh cần hỗ trợ thêm gì ạ?"})
    assert page.status_code in (200, 303)
    settle(client)
    assert fake.texts_to(user)[-1] == "Anh cần hỗ trợ thêm gì ạ?"
    assert client.post(f"/api/v1/staff/conversations/{sid}/release").status_code == 204
    assert "Đăng ký kết hôn" in say(client, fake, user, "đăng ký kết hôn cần gì")[0]["text"]


def test_unfollow_stops_every_message(
    client: TestClient, fake: FakeZalo, kb: KnowledgeBase
) -> None:
    user = new_user()
    say(client, fake, user, "gặp nhân viên")
    sid = conversation_of(kb, user)
    before = len(fake.sent)
    deliver(client, event("unfollow", user))
    settle(client)
    with session_scope(kb.engine) as session:
        row = session.get(ZaloFollower, followers.user_key(user, kb.settings.secret_key))
        assert row is not None and not row.active and row.user_id is None
    reply = client.post(f"/api/v1/staff/conversations/{sid}/reply", json={"text": "Em đây ạ."})
    assert reply.status_code == 200  # stored for the transcript, not sent
    settle(client)
    assert len(fake.sent) == before


def test_an_idle_conversation_is_followed_by_a_new_one(
    client: TestClient, fake: FakeZalo, kb: KnowledgeBase
) -> None:
    user = new_user()
    say(client, fake, user, "gặp nhân viên")
    first = conversation_of(kb, user)
    with session_scope(kb.engine) as session:  # an hour of silence
        session.execute(
            update(Conversation)
            .where(Conversation.id == first)
            .values(created_at=datetime.now(UTC) - timedelta(hours=1))
        )
        session.execute(
            update(ChatTurn)
            .where(ChatTurn.conversation_id == first)
            .values(created_at=datetime.now(UTC) - timedelta(hours=1))
        )
    answer = say(client, fake, user, "đăng ký kết hôn cần gì")
    assert "Đăng ký kết hôn" in answer[0]["text"]  # not silenced by the old handoff
    second = conversation_of(kb, user)
    assert second != first
    with session_scope(kb.engine) as session:
        old = session.get(Conversation, first)
        assert old is not None and old.state is ConversationState.WAITING_HUMAN


# --- the platform's limits -------------------------------------------------------------------
def test_long_answers_are_split_under_the_limit(
    client: TestClient, fake: FakeZalo, rasa: RasaDouble
) -> None:
    paragraph = "Thành phần hồ sơ gồm tờ khai, giấy tờ tùy thân và ảnh chân dung. " * 12
    long_text = "\n\n".join([paragraph] * 5)  # about 4,000 characters
    rasa.canned = [
        {"text": long_text, "buttons": [{"title": "Gặp nhân viên", "payload": "/handoff"}]}
    ]
    user = new_user()
    sent = say(client, fake, user, "hồ sơ gồm những gì")
    assert len(sent) >= 3 and all(len(m["text"]) <= messages.MAX_TEXT for m in sent)
    assert " ".join(m["text"] for m in sent).split() == long_text.split()  # nothing lost
    assert all(m["text"].endswith(".") for m in sent)  # cut between sentences
    assert buttons(sent[-1]) and not any(buttons(m) for m in sent[:-1])
    assert fake.rejected == []


def test_fit_shortens_with_the_link_and_splits_at_sentences() -> None:
    text = ("Câu hỏi về thủ tục. " * 400) + "\nXem chi tiết: https://dichvucong.gov.vn/p?ma=1.0"
    parts = messages.fit(text, limit=2000, max_parts=3)
    assert len(parts) == 3 and all(len(p) <= 2000 for p in parts)
    assert parts[-1].endswith("Xem đầy đủ tại: https://dichvucong.gov.vn/p?ma=1.0")
    assert all(p.endswith(".") for p in parts[:-1])
    assert messages.split_text("ngắn") == ["ngắn"]
    assert messages.split_text("x" * 4500) == ["x" * 2000, "x" * 2000, "x" * 500]


def test_more_than_five_buttons_are_listed_by_number(
    client: TestClient, fake: FakeZalo, rasa: RasaDouble
) -> None:
    options = [
        {"title": f"Thủ tục {i}", "payload": f'/choose_option{{"option":"{i}"}}'}
        for i in range(1, 8)
    ]
    rasa.canned = [{"text": "Anh/chị hỏi về thủ tục nào?", "buttons": options}]
    user = new_user()
    sent = say(client, fake, user, "thủ tục")
    assert not any(buttons(m) for m in sent)
    listing = sent[-1]["text"]
    assert "nhắn số thứ tự" in listing and "7. Thủ tục 7" in listing
    say(client, fake, user, "6")
    assert rasa.heard[-1] == '/choose_option{"option":"6"}'
    say(client, fake, user, "6")  # the list was used: a second "6" is the citizen's own text
    assert rasa.heard[-1] == "6"
    plan = messages.plan(ChatMessage("x", options[:5]))
    assert len(plan.messages) == 1 and len(plan.messages[0].buttons) == 5 and plan.choices is None
