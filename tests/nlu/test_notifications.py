"""Dossier status notifications end to end, on SQLite and PostgreSQL: subscribe in the
dialogue, a status change arrives by sync, the outbox worker sends exactly one message per
channel — also when it is killed between the provider accepting and the row being marked
sent — retries with backoff, gives up into dead letters, and stops after "hủy thông báo"."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from knowledge_base.db import session_scope
from knowledge_base.models import utcnow
from nlu.models import VoiceCall
from nlu.notifications import service
from nlu.notifications.models import Channel, OutboxStatus
from nlu.notifications.outbox import RetryPolicy
from nlu.notifications.senders import (
    Delivery,
    HttpSmsSender,
    PermanentFailure,
    Sender,
    TemporaryFailure,
    build_delivery,
)
from nlu.privacy import mask
from nlu.retention import run_retention
from tests.conftest import REPO
from tests.nlu.notification_stack import (
    NUMBER,
    PHONE,
    WEB,
    ZALO,
    ZALO_USER,
    Stack,
    build_stack,
)

DONE = "Đã có kết quả"


@pytest.fixture
def stack(database_url: str, tmp_path: Path) -> Iterator[Stack]:
    yield from build_stack(tmp_path, database_url)


def subscribe_everywhere(stack: Stack) -> None:
    for sender in (WEB, ZALO, PHONE):
        looked = stack.look_up(sender)
        offer = looked["responses"][1]
        assert "nhận thông báo" in offer["text"]
        assert [b["payload"] for b in offer["buttons"]] == [
            "/subscribe_notifications",
            "/cancel_notifications",
        ]
        assert "Đã đăng ký" in stack.subscribe(sender)


async def test_subscribe_sync_and_exactly_one_message_per_channel(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    subscribe_everywhere(stack)
    assert "Đã đăng ký" in stack.subscribe(PHONE)  # once more: still one subscription
    first = stack.sync(DONE)
    assert (first.updated, first.changed, first.enqueued) == (1, 1, 3)
    again = stack.sync(DONE)  # the same export read twice: nothing new
    assert (again.changed, again.enqueued) == (0, 0)
    report = await stack.worker().run_once()
    assert (report.sent, report.failed, report.dead) == (3, 0, 0)
    assert [to for to, _ in stack.sms.delivered.values()] == [NUMBER]
    assert [to for to, _ in stack.zalo.sent] == [ZALO_USER]
    assert stack.web_inbox() == 1
    text = next(iter(stack.sms.delivered.values()))[1]
    assert DONE in text and "0042" in text and "hủy thông báo" in text
    rows = stack.outbox()
    assert {r.status for r in rows} == {OutboxStatus.SENT}
    assert all(r.address == "" for r in rows)  # numbers are not kept once sent
    assert {r.address_hint for r in rows if r.channel is Channel.SMS} == {"******5678"}
    assert (await stack.worker().run_once()).sent == 0
    assert stack.sync(DONE).enqueued == 0
    logged = " ".join(str(vars(r)) for r in caplog.records)
    assert NUMBER not in logged and "345 678" not in logged


@pytest.mark.parametrize(
    ("channel", "after_accept"), [("sms", True), ("web", True), ("zalo", False)]
)
async def test_a_worker_killed_mid_send_is_retried_without_a_duplicate(
    stack: Stack, channel: str, after_accept: bool
) -> None:
    """Killed after the provider accepted (SMS, web inbox: the provider dedupes the resend
    by its key) or before it was called (Zalo, which takes no key): one message either way."""
    subscribe_everywhere(stack)
    stack.sync(DONE)
    real = stack.delivery().senders[Channel(channel)]
    crashing = stack.worker(**{channel: CrashingSender(real, after_accept)})
    with pytest.raises(WorkerKilled):
        await crashing.run_once()
    # the crash strands the message being sent and any others of the claimed batch
    stuck = [r for r in stack.outbox() if r.status is OutboxStatus.SENDING]
    assert channel in {r.channel.value for r in stuck}
    stack.clock.advance(10)  # restarted before the lease ran out: not touched
    assert (await stack.worker().run_once()).sent == 0
    stack.clock.advance(RetryPolicy().lease_s)
    assert (await stack.worker().run_once()).sent == len(stuck)
    rows = {r.channel.value: r for r in stack.outbox()}
    assert {r.status for r in rows.values()} == {OutboxStatus.SENT}
    assert rows[channel].attempts == 2
    assert len(stack.sms.delivered) == 1 and len(stack.zalo.sent) == 1
    assert stack.web_inbox() == 1
    if channel == "sms":
        assert len(stack.sms.accepted) == 2  # sent twice, delivered once


@pytest.fixture
def pg_stack(postgres_url: str, tmp_path: Path) -> Iterator[Stack]:
    yield from build_stack(tmp_path, postgres_url)


def test_workers_never_claim_the_same_message(pg_stack: Stack) -> None:
    """Several workers on PostgreSQL (FOR UPDATE SKIP LOCKED): every message claimed once."""
    with session_scope(pg_stack.engine) as session:
        for n in range(60):
            service.enqueue_message(session, "web", f"session-{n:04d}", "tin", f"key-{n}")
    workers = [pg_stack.worker() for _ in range(4)]
    claimed: list[list[int]] = [[] for _ in workers]
    start = threading.Barrier(len(workers))

    def claim_all(index: int) -> None:
        start.wait()
        while batch := workers[index].claim(pg_stack.clock()):
            claimed[index].extend(c.id for c in batch)

    threads = [threading.Thread(target=claim_all, args=(i,)) for i in range(len(workers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    ids = [i for batch in claimed for i in batch]
    assert len(ids) == len(set(ids)) == 60


class WorkerKilled(BaseException):
    """Stands for SIGKILL: nothing in the worker catches it."""


class CrashingSender:
    def __init__(self, inner: Sender, after_accept: bool) -> None:
        self.inner, self.after_accept = inner, after_accept

    async def send(self, address: str, text: str, idempotency_key: str) -> None:
        if self.after_accept:
            await self.inner.send(address, text, idempotency_key)
        raise WorkerKilled


class Gateway(ThreadingHTTPServer):
    """An SMS gateway that dedupes by client message id, and kills the worker process
    (``victim``) after accepting its first message, before answering."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), GatewayHandler)
        self.requests: list[str] = []
        self.delivered: dict[str, dict[str, Any]] = {}
        self.victim: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/send"


class GatewayHandler(BaseHTTPRequestHandler):
    server: Gateway

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        key = body["client_message_id"]
        assert self.headers["idempotency-key"] == key
        self.server.requests.append(key)
        self.server.delivered.setdefault(key, body)
        if (victim := self.server.victim) is not None:
            self.server.victim = None
            victim.kill()
            victim.wait(timeout=10)
            return  # the worker never hears that the message was accepted
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"status": "accepted"}')

    def log_message(self, *args: object) -> None:
        pass


def test_the_worker_process_killed_after_the_gateway_accepted(
    stack: Stack, tmp_path: Path, database_url: str
) -> None:
    """`hotline notifications work --once` is SIGKILLed while the gateway holds its message;
    the restarted worker sends it again with the same key and the citizen gets one SMS."""
    assert "Đã đăng ký" in (stack.look_up(PHONE) and stack.subscribe(PHONE))
    assert stack.sync(DONE).enqueued == 1
    gateway = Gateway()
    threading.Thread(target=gateway.serve_forever, daemon=True).start()
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "HOTLINE_ENVIRONMENT": "test",
        "HOTLINE_SECRET_KEY": "test-secret-key-0123456789",
        "HOTLINE_DATA_DIR": str(tmp_path),
        "HOTLINE_DATABASE_URL": database_url,
        "HOTLINE_SMS_URL": gateway.url,
        "HOTLINE_SMS_TOKEN": "sms-token-0123456789",
    }
    command = [sys.executable, "-c", "from api.cli.main import app; app()"]
    try:
        worker = subprocess.Popen(
            [*command, "notifications", "work", "--once"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        gateway.victim = worker
        _, err = worker.communicate(timeout=60)
        assert worker.returncode == -9, err.decode()
        (row,) = stack.outbox()
        assert (row.status, len(gateway.delivered)) == (OutboxStatus.SENDING, 1)
        stack.clock.advance(RetryPolicy().lease_s + 1)  # claimed later than the clock's start
        sender = HttpSmsSender(gateway.url, "sms-token-0123456789")
        restarted = stack.worker(sms=sender)
        try:
            assert asyncio.run(restarted.run_once()).sent == 1
        finally:
            asyncio.run(sender.aclose())
    finally:
        gateway.shutdown()
        gateway.server_close()
    (row,) = stack.outbox()
    assert (row.status, row.attempts) == (OutboxStatus.SENT, 2)
    assert len(gateway.requests) == 2 and len(set(gateway.requests)) == 1
    (message,) = gateway.delivered.values()
    assert message["to"] == NUMBER and "Da co ket qua" in message["text"]  # unaccented SMS


async def test_temporary_failures_back_off_then_send(stack: Stack) -> None:
    stack.look_up(WEB)
    said = mask("có, nhận thông báo qua số 0912 345 678")  # as the chat API stores it
    stack.raw_values.keep(WEB, said.findings)
    assert "******5678" in stack.subscribe(WEB, said.text)  # a number given: by SMS
    stack.sync(DONE)
    stack.sms.failures = [TemporaryFailure("503"), TemporaryFailure("429")]
    worker = stack.worker()
    assert (await worker.run_once()).failed == 1
    (row,) = stack.outbox()
    assert row.status is OutboxStatus.FAILED and row.last_error == "503"
    stack.clock.advance(29)  # the first backoff is 30 s
    assert (await worker.run_once()).failed == 0
    stack.clock.advance(2)
    assert (await worker.run_once()).failed == 1
    stack.clock.advance(59)  # then 60 s
    assert (await worker.run_once()).sent == 0
    stack.clock.advance(2)
    assert (await worker.run_once()).sent == 1
    (row,) = stack.outbox()
    assert (row.status, row.attempts) == (OutboxStatus.SENT, 3)
    assert len(stack.sms.delivered) == 1


async def test_permanent_failure_and_too_many_attempts_are_dead_letters(stack: Stack) -> None:
    subscribe_everywhere(stack)
    stack.sync(DONE)
    stack.sms.failures = [PermanentFailure("sms gateway refused the message: 400")]
    stack.zalo.sent = []
    policy = RetryPolicy(max_attempts=2, backoff_s=1, backoff_max_s=1)
    worker = stack.worker(policy, zalo=AlwaysDown())
    await worker.run_once()
    stack.clock.advance(2)
    await worker.run_once()
    by_channel = {r.channel.value: r for r in stack.outbox()}
    assert by_channel["sms"].status is OutboxStatus.DEAD and by_channel["sms"].attempts == 1
    assert by_channel["zalo"].status is OutboxStatus.DEAD and by_channel["zalo"].attempts == 2
    assert by_channel["web"].status is OutboxStatus.SENT
    assert by_channel["sms"].address == NUMBER  # kept, so that staff can send it again
    with session_scope(stack.engine) as session:
        assert service.counts(session)["dead"] == 2
        assert service.retry(session, by_channel["sms"].id, "reviewer1")
        assert not service.retry(session, by_channel["web"].id, "reviewer1")  # already sent
    assert (await stack.worker().run_once()).sent == 1
    assert len(stack.sms.delivered) == 1


class AlwaysDown:
    async def send(self, address: str, text: str, idempotency_key: str) -> None:
        raise TemporaryFailure("zalo: ConnectError")


async def test_unsubscribe_stops_further_messages(stack: Stack) -> None:
    subscribe_everywhere(stack)
    stack.sync("Đang thẩm định")
    assert (await stack.worker().run_once()).sent == 3
    assert "Đã hủy" in stack.cancel(ZALO, "huy thong bao")
    assert "Đã hủy" in stack.cancel(PHONE)  # by the caller id
    assert "không có đăng ký" in stack.cancel(PHONE)
    assert stack.sync(DONE).enqueued == 1  # the web session only
    assert "Đã hủy" in stack.cancel(WEB, "không nhận thông báo nữa")  # before it went out
    assert (await stack.worker().run_once()).sent == 0
    assert [r.status for r in stack.outbox()][-1] is OutboxStatus.CANCELLED
    assert len(stack.sms.delivered) == len(stack.zalo.sent) == stack.web_inbox() == 1
    stack.look_up(WEB)  # subscribing again is a fresh consent
    assert "Đã đăng ký" in stack.subscribe(WEB)
    assert stack.sync(DONE, due="2024-04-01").enqueued == 1  # the result date moved


def test_declining_a_new_offer_keeps_earlier_subscriptions(stack: Stack) -> None:
    stack.look_up(WEB)
    stack.subscribe(WEB)
    other = {"dossier_code": "000.00.12.H55-240101-0001", "phone_last4": "5678"}
    assert len(stack.run("action_check_dossier", WEB, "x", slots=other)["responses"]) == 2
    declined = stack.cancel(WEB, "/cancel_notifications")  # "Không"
    assert "về hồ sơ này" in declined and "đăng ký trước vẫn giữ" in declined
    assert stack.sync(DONE).enqueued == 1
    assert "Đã hủy" in stack.cancel(WEB)


def test_the_dialogue_subscribes_only_after_a_successful_look_up(stack: Stack) -> None:
    assert "tra cứu hồ sơ trước" in stack.subscribe(WEB)
    failed = stack.run(
        "action_check_dossier",
        WEB,
        "x",
        slots={"dossier_code": "000.00.12.H55-240315-0042", "phone_last4": "0000"},
    )
    assert len(failed["responses"]) == 1  # no offer
    assert "tra cứu hồ sơ trước" in stack.subscribe(WEB)
    stack.look_up(ZALO)
    assert "tra cứu hồ sơ trước" in stack.subscribe(WEB)  # another conversation's offer
    declined = stack.cancel(ZALO, "/cancel_notifications")  # "Không"
    assert "không gửi thông báo" in declined
    assert "tra cứu hồ sơ trước" in stack.subscribe(ZALO)  # "Không" ended the offer
    with session_scope(stack.engine) as session:
        assert service.counts(session) == {s.value: 0 for s in OutboxStatus}


def test_a_phone_call_without_caller_id_asks_for_the_number(stack: Stack) -> None:
    with session_scope(stack.engine) as session:
        call = session.get(VoiceCall, PHONE)
        assert call is not None
        call.caller = ""
    stack.look_up(PHONE)
    assert "đọc số điện thoại" in stack.subscribe(PHONE, "có")
    said = mask("nhận thông báo qua số 0912 345 678")
    stack.raw_values.keep(PHONE, said.findings)
    reply = stack.subscribe(PHONE, said.text)
    assert "******5678" in reply and NUMBER not in reply


async def test_no_offer_on_the_phone_without_an_sms_gateway(tmp_path: Path) -> None:
    for stack in build_stack(tmp_path, f"sqlite:///{tmp_path / 'x.db'}", sms_url=""):
        assert len(stack.look_up(PHONE)["responses"]) == 1
        assert len(stack.look_up(WEB)["responses"]) == 2


def test_enqueue_message_for_the_phone_line(stack: Stack) -> None:
    with session_scope(stack.engine) as session:
        key = service.idempotency_key("answer-by-sms", PHONE, 1)
        assert service.enqueue_message(session, "sms", NUMBER, "Hồ sơ gồm …", key)
        assert not service.enqueue_message(session, "sms", NUMBER, "Hồ sơ gồm …", key)
        with pytest.raises(ValueError):
            service.enqueue_message(session, "sms", "", "x", "k")
    (row,) = stack.outbox()
    assert (row.status, row.subscription_id, row.address_hint) == (
        OutboxStatus.PENDING,
        None,
        "******5678",
    )
    due = row.next_attempt_at.replace(tzinfo=row.next_attempt_at.tzinfo or UTC)
    assert timedelta(0) <= utcnow() - due < timedelta(minutes=1)


def test_delivery_without_zalo_has_web_and_sms(stack: Stack) -> None:
    delivery: Delivery = build_delivery(stack.settings, stack.engine)
    assert set(delivery.senders) == {Channel.WEB, Channel.SMS}


def test_retention_erases_subscriptions_and_addresses(stack: Stack) -> None:
    subscribe_everywhere(stack)
    stack.sync(DONE)
    report = run_retention(stack.engine, 1, now=utcnow() + timedelta(days=2))
    assert report.notification_records_erased == 9  # subscriptions, addresses, offers
    assert {r.address for r in stack.outbox()} == {""}
    assert stack.sync(DONE, due="2024-04-02").enqueued == 0  # nobody is subscribed now
