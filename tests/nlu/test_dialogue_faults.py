"""Rasa answering garbage, hanging or down: the chat degrades (never a 500) and a follow-up in
degraded mode still knows which procedure the conversation is about."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from knowledge_base.service import KnowledgeBase
from nlu.chat import ChatService, OfflineDialogue, RasaRestClient
from tests.conftest import make_settings

BIRTH_REGISTRATION = "1.001193"  # "Đăng ký khai sinh" in the bundled sample catalogue
REPLIES = {
    "/html": (200, b"<html>502 Bad Gateway</html>"),
    "/object": (200, b'{"error": "unexpected"}'),
    "/broken": (500, b"Internal Server Error"),
}


class _FakeRasa(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        mode = self.path.split("/webhooks")[0]
        if mode == "/hang":
            time.sleep(2)
        status, body = REPLIES.get(mode, (200, b"[]"))
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture(scope="module")
def fake_rasa() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeRasa)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    knowledge_base = KnowledgeBase(make_settings(tmp_path_factory.mktemp("faults")))
    knowledge_base.warm_up()
    return knowledge_base


@pytest.mark.parametrize("mode", ["/html", "/object", "/broken", "/hang"])
async def test_a_misbehaving_rasa_degrades_the_turn(kb: KnowledgeBase, fake_rasa: str, mode: str):
    rasa = RasaRestClient(fake_rasa + mode, timeout_s=0.5)
    service = ChatService(kb, kb.engine, rasa)
    started = time.monotonic()
    reply = await service.handle(None, "Đăng ký khai sinh cần giấy tờ gì")
    await rasa.aclose()
    assert reply.degraded and reply.messages
    assert "khai sinh" in reply.messages[0].text.lower()
    assert time.monotonic() - started < 1.8  # the hang is cut at the client's timeout


async def test_a_degraded_follow_up_keeps_the_procedure(kb: KnowledgeBase):
    service = ChatService(kb, kb.engine, OfflineDialogue())
    first = await service.handle(None, "alo cho hỏi làm giấy khai sinh cho con cần giấy tờ gì")
    follow = await service.handle(first.session_id, "còn lệ phí thì sao")
    assert follow.degraded
    assert "phí" in follow.messages[0].text.lower()
    turns = service.transcript(first.session_id)
    assert turns is not None
    bots = [t for t in turns if t.procedure_code]
    assert [t.procedure_code for t in bots] == [BIRTH_REGISTRATION, BIRTH_REGISTRATION]


async def test_a_new_topic_is_not_taken_for_a_follow_up(kb: KnowledgeBase):
    service = ChatService(kb, kb.engine, OfflineDialogue())
    first = await service.handle(None, "đăng ký khai sinh cần giấy tờ gì")
    other = await service.handle(first.session_id, "còn đăng ký kết hôn thì sao")
    assert "kết hôn" in other.messages[0].text.lower()


async def test_several_rasa_processes_each_keep_their_conversations() -> None:
    rasa = RasaRestClient("http://127.0.0.1:5005, http://127.0.0.1:5006/", timeout_s=0.5)
    chosen = {rasa.url_for(f"conversation-{n}") for n in range(50)}
    await rasa.aclose()
    assert chosen == {
        "http://127.0.0.1:5005/webhooks/rest/webhook",
        "http://127.0.0.1:5006/webhooks/rest/webhook",
    }
    assert rasa.url_for("conversation-7") == rasa.url_for("conversation-7")
