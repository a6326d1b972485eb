"""Masking personal data (nlu/privacy.py), the short-lived raw values behind the masks
(nlu/raw_values.py), masked log lines and the idle end of a web chat."""

from __future__ import annotations

import logging
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from api.logs import KeyValueFormatter
from knowledge_base.db import make_engine, migrate, session_scope
from nlu.chat_sessions import SessionStatus, session_status
from nlu.models import ChatTurn, Conversation, TurnRole
from nlu.privacy import Kind, mask, mask_reply, mask_text
from nlu.raw_values import MemoryRawValues, RedisRawValues, reveal

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("số của tôi 0912 345 678 nhé", "số của tôi ******5678 nhé"),
        ("0912345678", "******5678"),
        ("0912.345.678", "******5678"),
        ("0912-345-678.", "******5678."),
        ("+84 912 345 678", "******5678"),
        ("84912345678", "******5678"),
        ("máy bàn 0293 3871 234", "máy bàn *******1234"),
        ("CCCD 079203001234", "CCCD ********1234"),
        ("căn cước 079 203 001 234", "căn cước ********1234"),
        ("CMND 123456789", "CMND *****6789"),
        ("tài khoản 0123456789012345", "tài khoản ************2345"),
        ("email Lan.Nguyen+hs@example.com.vn.", "email L***@example.com.vn."),
        ("hồ sơ 000.00.12.H55-240101-0001 xong chưa", "hồ sơ ***.**.**.H55-******-0001 xong chưa"),
        ("000 00 12 h55 240101 0001", "***.**.**.H55-******-0001"),
        ("0000012H552401010001", "***.**.**.H55-******-0001"),
    ],
)
def test_personal_data_is_masked_keeping_the_last_digits(text: str, masked: str) -> None:
    assert mask_text(text) == masked
    assert mask_text(masked) == masked  # nothing left to mask


@pytest.mark.parametrize(
    "text",
    [
        "lệ phí 50.000 đồng",
        "phạt 1.500.000 đồng",
        "mức phạt 150.000.000 đồng",
        "nộp 150000000 đồng",
        "nộp 150000000đ",
        "năm 2024",
        "làm việc từ 7:30 đến 17h00",
        "hẹn ngày 15/10/2026",
        "ngày 01.01.2024 lúc 09.30",
        "gọi tổng đài 1900 0000",
        "thủ tục 1.001193 hoặc 1.001193.000.00.00.H12",
        "phản ánh số PA-2026-000123",
        "tỷ lệ 3.14159265358",
        "4 số cuối là 5678",
    ],
)
def test_ordinary_numbers_stay(text: str) -> None:
    assert mask(text).findings == ()
    assert mask_text(text) == text


def test_findings_carry_the_canonical_values() -> None:
    found = mask("0912 345 678, +84 912 345 678, a@b.vn, 000 00 12 h55 240101 0001").findings
    assert [(f.kind, f.value) for f in found] == [
        (Kind.PHONE, "0912345678"),
        (Kind.PHONE, "0912345678"),
        (Kind.EMAIL, "a@b.vn"),
        (Kind.DOSSIER, "000.00.12.H55-240101-0001"),
    ]


def test_replies_keep_office_numbers_and_mask_the_citizens_own() -> None:
    reply = (
        "Hồ sơ 000.00.12.H55-240101-0001: cán bộ sẽ gọi 0912345678; "
        "thắc mắc xin gọi 0293 3871 234 hoặc mail motcua@haugiang.gov.vn, CCCD 079203001234."
    )
    assert mask_reply(reply, {"0912345678"}) == (
        "Hồ sơ ***.**.**.H55-******-0001: cán bộ sẽ gọi ******5678; "
        "thắc mắc xin gọi 0293 3871 234 hoặc mail motcua@haugiang.gov.vn, CCCD ********1234."
    )


def test_masks_are_revealed_only_within_their_conversation() -> None:
    store = MemoryRawValues(ttl_s=60)
    said = mask("mã 000.00.12.H55-240101-0001, gọi 0912 345 678, CCCD 079203001234")
    store.keep("conv-a", said.findings)
    values = store.recall("conv-a")
    assert sorted(values.values()) == ["000.00.12.H55-240101-0001", "0912345678"]  # no ID
    assert reveal(values, said.text) == (
        "mã 000.00.12.H55-240101-0001, gọi 0912345678, CCCD ********1234"
    )
    assert store.recall("conv-b") == {}
    assert reveal({}, said.text) == said.text


def test_raw_values_expire_and_stay_bounded() -> None:
    store = MemoryRawValues(ttl_s=0.05, max_conversations=2)
    for name in ("one", "two", "three"):
        store.keep(name, mask("0912 345 678").findings)
    assert store.recall("one") == {}  # the oldest conversation made room
    assert store.recall("three")
    time.sleep(0.1)
    assert store.recall("three") == {}


def test_raw_values_in_redis_are_shared_and_expire() -> None:
    conversation = f"conv-{uuid.uuid4().hex}"
    said = mask("000 00 12 H55 240101 0001")
    RedisRawValues(REDIS_URL, ttl_s=60).keep(conversation, said.findings)
    another_replica = RedisRawValues(REDIS_URL, ttl_s=60)
    assert another_replica.recall(conversation) == {said.text: "000.00.12.H55-240101-0001"}
    import redis

    ttl = redis.Redis.from_url(REDIS_URL).ttl(f"hotline:raw-values:{conversation}")
    assert 0 < ttl <= 60


def test_an_unreachable_redis_keeps_nothing_and_reveals_nothing() -> None:
    store = RedisRawValues("redis://127.0.0.1:1/0", ttl_s=60)
    store.keep("conv", mask("0912 345 678").findings)
    assert store.recall("conv") == {}


def test_log_lines_are_masked_whatever_the_call_passed() -> None:
    formatter = KeyValueFormatter("%(levelname)s %(message)s")
    record = logging.makeLogRecord(
        {"msg": "chat.turn %s", "args": ("0912 345 678",), "levelname": "INFO"}
    )
    record.question = "CCCD 079203001234, a.b@example.com"
    line = formatter.format(record)
    assert "******5678" in line and "********1234" in line and "a***@example.com" in line
    assert "345 678" not in line and "079203001234" not in line and "a.b@" not in line


def test_a_conversation_ends_when_the_citizen_has_been_idle(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'idle.db'}")
    migrate(engine)
    now = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
    idle = timedelta(minutes=30)
    with session_scope(engine) as session:
        session.add(Conversation(id="quiet-citizen", created_at=now - timedelta(hours=2)))
        session.add(Conversation(id="no-turns-yet", created_at=now - timedelta(minutes=5)))
        session.flush()
        for role, minutes in ((TurnRole.CITIZEN, 31), (TurnRole.STAFF, 1)):
            session.add(
                ChatTurn(
                    conversation_id="quiet-citizen",
                    role=role,
                    text="x",
                    created_at=now - timedelta(minutes=minutes),
                )
            )
    with session_scope(engine) as session:
        # a staff reply does not reopen it for whoever sits at the kiosk next
        assert session_status(session, "quiet-citizen", idle, now) is SessionStatus.EXPIRED
        assert session_status(session, "quiet-citizen", idle * 2, now) is SessionStatus.ACTIVE
        assert session_status(session, "no-turns-yet", idle, now) is SessionStatus.ACTIVE
        assert session_status(session, "nobody", idle, now) is SessionStatus.UNKNOWN
