"""The pieces around the notification flow: the SMS gateway's HTTP contract, the Zalo and
phone-line adapters, the HTTP JSON dossier source and its field mapping, the sync command,
and a Rasa project that declares every intent and action the notification dialogue uses."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from typer.testing import CliRunner

from knowledge_base.db import session_scope
from knowledge_base.settings import get_settings
from nlu.notifications.senders import (
    HttpSmsSender,
    PermanentFailure,
    TemporaryFailure,
    ZaloSender,
)
from nlu.notifications.service import SmsOutbox
from nlu.notifications.sync import (
    CsvFolderSource,
    HttpJsonSource,
    SourceError,
    source_from_spec,
    sync_dossiers,
)
from nlu.runtime import RASA_PROJECT
from tests.nlu.notification_stack import CODE, NUMBER, WEB, Stack, build_stack


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    yield from build_stack(tmp_path, f"sqlite:///{tmp_path / 'test.db'}")


def gateway(status: int, seen: list[httpx.Request]) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if status == 0:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(status, json={})

    return httpx.MockTransport(answer)


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, None),
        (202, None),
        (409, None),  # a key the gateway already accepted
        (429, TemporaryFailure),
        (503, TemporaryFailure),
        (0, TemporaryFailure),
        (400, PermanentFailure),
        (401, PermanentFailure),
    ],
)
async def test_the_sms_gateway_contract(status: int, outcome: type[Exception] | None) -> None:
    seen: list[httpx.Request] = []
    sender = HttpSmsSender(
        "https://sms.test/send", "tok", "UBND-TINH", transport=gateway(status, seen)
    )
    try:
        if outcome is None:
            await sender.send("0912345678", "Hồ sơ đã có kết quả", "key-1")
        else:
            with pytest.raises(outcome):
                await sender.send("0912345678", "Hồ sơ đã có kết quả", "key-1")
    finally:
        await sender.aclose()
    (request,) = seen
    body = json.loads(request.content)
    assert body == {
        "to": "0912345678",
        "text": "Ho so da co ket qua",
        "sender": "UBND-TINH",
        "client_message_id": "key-1",
    }
    assert request.headers["idempotency-key"] == "key-1"
    assert request.headers["authorization"] == "Bearer tok"


class LeftZaloClient:
    async def send_text(self, user_id: str, text: str) -> bool:
        return False  # what the OA client answers for a user who unfollowed


async def test_a_zalo_user_who_cannot_receive_is_a_permanent_failure() -> None:
    with pytest.raises(PermanentFailure):
        await ZaloSender(LeftZaloClient()).send("zalo-user-1", "tin", "key-1")


async def test_the_phone_line_sends_an_answer_by_sms_through_the_outbox(stack: Stack) -> None:
    outbox = SmsOutbox(stack.engine, stack.settings)
    long_answer = "Hồ sơ gồm tờ khai và giấy tờ tùy thân. " * 80
    assert await outbox.send_sms("+84 912 345 678", long_answer, "voice:call-1:3:sms")
    assert await outbox.send_sms("+84912345678", long_answer, "voice:call-1:3:sms")
    assert not await outbox.send_sms("12345", "x", "voice:call-1:4:sms")
    off = SmsOutbox(stack.engine, stack.settings.model_copy(update={"sms_url": ""}))
    assert not await off.send_sms("0912345678", "x", "voice:call-1:5:sms")
    (row,) = stack.outbox()
    assert row.address == NUMBER and len(row.text) <= 1600 and row.text.endswith(".…")
    assert (await stack.worker().run_once()).sent == 1
    assert len(stack.sms.delivered) == 1


def one_stop_shop(payload: Any) -> httpx.MockTransport:
    return httpx.MockTransport(lambda request: httpx.Response(200, json=payload))


MAPPING = {
    "ma_ho_so": "MaHoSo",
    "so_dien_thoai": "ChuHoSo.SoDienThoai",
    "ten_thu_tuc": "TenThuTuc",
    "trang_thai": "TrangThai.Ten",
    "co_quan_tiep_nhan": "CoQuan",
    "ngay_tiep_nhan": "NgayNop",
    "ngay_hen_tra": "NgayHenTra",
}


def test_an_http_source_mapped_to_our_fields_notifies_the_subscribers(stack: Stack) -> None:
    stack.look_up(WEB)
    stack.subscribe(WEB)
    item = {
        "MaHoSo": CODE,
        "ChuHoSo": {"SoDienThoai": "0987001234"},
        "TenThuTuc": "Cấp phiếu lý lịch tư pháp",
        "TrangThai": {"Ten": "Đã có kết quả"},
        "CoQuan": "Sở Tư pháp",
        "NgayNop": "2024-03-15T08:30:00+07:00",
        "NgayHenTra": "25/03/2024",
    }
    payload = {"data": {"items": [item, {"MaHoSo": "không phải mã"}]}}
    source = HttpJsonSource(
        "https://motcua.test/api/ho-so", MAPPING, "data.items", transport=one_stop_shop(payload)
    )
    for expected in (1, 0):
        with session_scope(stack.engine) as session:
            report = sync_dossiers(session, stack.settings, source)
        assert (report.updated, report.enqueued) == (1, expected)
        assert [where for where, _ in report.rejected] == ["item 2"]
    (row,) = stack.outbox()
    assert "25/03/2024" in row.text and "Đã có kết quả" in row.text


def test_sources_refuse_what_they_cannot_read(tmp_path: Path) -> None:
    settings = get_settings()
    with pytest.raises(ValueError, match="unknown fields"):
        HttpJsonSource("https://x.test", {"ma_hoso": "Ma"})
    with pytest.raises(SourceError, match="no list"):
        list(HttpJsonSource("https://x.test", transport=one_stop_shop({"a": 1})).rows())
    failing = httpx.MockTransport(lambda request: httpx.Response(500))
    with pytest.raises(SourceError):
        list(HttpJsonSource("https://x.test", transport=failing).rows())
    with pytest.raises(SourceError):
        list(CsvFolderSource(tmp_path / "missing").rows())
    with pytest.raises(ValueError, match="unknown source"):
        source_from_spec("ftp:x", settings)
    assert isinstance(source_from_spec(f"csv-folder:{tmp_path}", settings), CsvFolderSource)
    http = source_from_spec("http:https://motcua.test/api", settings)
    assert isinstance(http, HttpJsonSource) and http.url == "https://motcua.test/api"


def test_the_sync_command_twice(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    from api.cli.main import app

    stack.look_up(WEB)
    stack.subscribe(WEB)
    stack.sync("Đang giải quyết")  # writes the export, nothing changes yet
    export = stack.folder / "export.csv"
    export.write_text(export.read_text().replace("Đang giải quyết", "Đã có kết quả"))
    monkeypatch.setenv("HOTLINE_DATABASE_URL", stack.settings.database_url)
    monkeypatch.setenv("HOTLINE_ENVIRONMENT", "test")
    monkeypatch.setenv("HOTLINE_SECRET_KEY", "test-secret-key-0123456789")
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        outputs = []
        for _ in range(2):
            result = runner.invoke(
                app, ["dossiers", "sync", "--source", f"csv-folder:{stack.folder}"]
            )
            assert result.exit_code == 0, result.output
            outputs.append(json.loads(result.output))
        bad = runner.invoke(app, ["dossiers", "sync", "--source", "nowhere"])
        assert bad.exit_code == 2
        imported = runner.invoke(app, ["dossiers", "import", str(export)])
        assert imported.exit_code == 0 and json.loads(imported.output)["enqueued"] == 0
    finally:
        get_settings.cache_clear()
    assert [(o["changed"], o["enqueued"]) for o in outputs] == [(1, 1), (0, 0)]


def _yaml(*parts: str) -> Any:
    return yaml.safe_load((RASA_PROJECT / Path(*parts)).read_text(encoding="utf-8"))


def _steps(document: dict[str, Any], key: str) -> list[dict[str, Any]]:
    return [step for item in document.get(key) or [] for step in item.get("steps") or []]


def test_the_rasa_project_declares_what_the_notification_dialogue_uses(stack: Stack) -> None:
    """What ``rasa data validate`` checks, without Rasa: intents with examples, and rules and
    stories naming only declared intents and actions; the action server runs them all."""
    domain = _yaml("domain.yml")
    intents = set(domain["intents"])
    known_actions = set(domain["actions"]) | set(domain["responses"]) | set(domain["forms"])
    known_actions.add("action_listen")  # Rasa's own: wait for the citizen
    trained = {e["intent"] for e in _yaml("data", "nlu.yml")["nlu"] if "intent" in e}
    held_out = {e["intent"] for e in _yaml("tests", "nlu_heldout.yml")["nlu"] if "intent" in e}
    assert trained == intents and held_out <= intents
    assert {"subscribe_notifications", "cancel_notifications"} <= held_out
    steps = [
        *_steps(_yaml("data", "rules.yml"), "rules"),
        *_steps(_yaml("data", "stories.yml"), "stories"),
        *_steps(_yaml("tests", "test_stories.yml"), "stories"),
    ]
    used_intents = {s["intent"] for s in steps if "intent" in s} - {"nlu_fallback"}
    used_actions = {s["action"] for s in steps if "action" in s}
    assert used_intents <= intents and used_actions <= known_actions
    custom = {a for a in domain["actions"] if a.startswith(("action_", "validate_"))}
    assert custom == set(stack.actions._actions)
    offered = {b["payload"].lstrip("/") for b in stack.look_up(WEB)["responses"][1]["buttons"]}
    assert offered <= intents
