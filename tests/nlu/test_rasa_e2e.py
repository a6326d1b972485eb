"""End to end through /api/v1/chat with a real Rasa server and the in-process action webhook.

The ``rasa_stack`` fixture (tests/conftest.py) starts both; it needs the Rasa venv.
"""

from __future__ import annotations

import re

import httpx
import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack(rasa_stack):
    return rasa_stack.api_url, rasa_stack.rasa


class Citizen:
    def __init__(self, api_url: str) -> None:
        self.url = f"{api_url}/api/v1/chat"
        self.session_id: str | None = None

    def say(self, message: str) -> dict:
        body = httpx.post(
            self.url, json={"session_id": self.session_id, "message": message}, timeout=30
        ).json()
        self.session_id = body["session_id"]
        return body

    def text(self, message: str) -> str:
        return "\n".join(m["text"] for m in self.say(message)["messages"])


def test_follow_ups_stay_on_the_procedure_and_switching_resets(stack):
    citizen = Citizen(stack[0])
    assert "Xin chào" in citizen.text("xin chào")
    first = citizen.text("làm căn cước lần đầu cần giấy tờ gì")
    code = re.search(r"mã (\d\.\d+)", first)[1]
    assert f"mã {code}" in citizen.text("còn lệ phí thì sao?")
    assert f"mã {code}" in citizen.text("nop online duoc khong")
    other = citizen.text("đăng ký kết hôn cần gì")
    assert "Đăng ký kết hôn" in other and f"mã {code}" not in other


def test_near_variants_are_asked_and_a_choice_is_understood(stack):
    citizen = Citizen(stack[0])
    asked = citizen.say("cấp hộ chiếu phổ thông mất bao lâu")
    buttons = asked["messages"][0]["buttons"]
    assert len(buttons) >= 2
    second = buttons[1]["title"].split(". ", 1)[1]
    assert second in citizen.text("số 2")
    # the list is settled: another pick is asked back, not searched for or refused
    assert "không có danh sách" in citizen.text("số 2")


def test_button_payload_chooses_too(stack):
    citizen = Citizen(stack[0])
    asked = citizen.say("cấp hộ chiếu phổ thông cần gì")
    payload = asked["messages"][0]["buttons"][0]["payload"]
    first = asked["messages"][0]["buttons"][0]["title"].split(". ", 1)[1]
    assert first in citizen.text(payload)


def test_out_of_scope_and_who_are_you(stack):
    citizen = Citizen(stack[0])
    refused = citizen.say("thời tiết hôm nay thế nào")
    assert "tổng đài viên" in refused["messages"][0]["text"]
    assert refused["messages"][0]["buttons"][0]["payload"] == "/handoff"
    assert "trợ lý tự động" in citizen.text("ban la ai")


def test_dossier_look_up_success_and_uniform_failure(stack):
    citizen = Citizen(stack[0])
    assert "mã hồ sơ" in citizen.text("tra cứu hồ sơ")
    assert "4 số cuối" in citizen.text("000 00 12 H55 240101 0001")
    assert "Đã có kết quả" in citizen.text("5678")
    stranger = Citizen(stack[0])
    assert "4 số cuối" in stranger.text("tra cuu ho so 000.00.12.H55-240101-0001")
    assert "Không tìm thấy hồ sơ khớp thông tin" in stranger.text("0000")


def test_feedback_rating_and_handoff(stack):
    citizen = Citizen(stack[0])
    assert "nội dung phản ánh" in citizen.text("tôi muốn phản ánh")
    assert re.search(r"PA-\d{4}-\d{6}", citizen.text("Cán bộ trả hồ sơ trễ hẹn ba ngày"))
    asked = citizen.say("tạm biệt")
    assert [b["title"] for b in asked["messages"][0]["buttons"]] == ["5", "4", "3", "2", "1"]
    assert "4/5" in citizen.text("4")
    handed = citizen.say("cho tôi gặp nhân viên")
    assert handed["handoff"]
    quiet = citizen.say("alo")
    assert quiet["handoff"] and quiet["messages"] == []


def test_rasa_down_mid_conversation_degrades_then_recovers(stack):
    api_url, rasa = stack
    citizen = Citizen(api_url)
    citizen.text("làm căn cước lần đầu cần giấy tờ gì")
    rasa.stop()
    degraded = citizen.say("lệ phí cấp đổi thẻ căn cước")
    assert degraded["degraded"] and "đồng" in degraded["messages"][0]["text"]
    code = degraded["procedure_code"]
    rasa.start()
    back = citizen.say("mất bao lâu")
    # the stored dialogue state carried the turn answered while Rasa was down
    assert not back["degraded"] and back["procedure_code"] == code
    assert f"mã {code}" in back["messages"][0]["text"]
