"""Fault injection against the real PostgreSQL and Redis on 127.0.0.1: a proxy in the test
cuts or stalls them mid-run; the answers stay clear, nothing is half-written, and the service
recovers without a restart."""

from __future__ import annotations

import ipaddress
import random
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, select

from api.main import create_app
from knowledge_base.models import AuditEntry, FaqEntry, FaqVersion
from nlu.chat import OfflineDialogue
from nlu.dossiers import Quota, RedisAttemptLimiter
from tests.api.conftest import PASSWORD, staffed_kb
from tests.faultproxy import FaultProxy, Mode

CHAT = "/api/v1/chat"
QUESTION = {"message": "đăng ký khai sinh cần giấy tờ gì"}


def _through(url: str, port: int) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit(":", 1)[0] if ":" in parts.netloc else parts.netloc
    return urlunsplit(parts._replace(netloc=f"{netloc}:{port}"))


@pytest.fixture
def database(postgres_url: str) -> Iterator[tuple[FaultProxy, str]]:
    with FaultProxy(urlsplit(postgres_url).port or 5432) as proxy:
        yield proxy, _through(postgres_url, proxy.port)


@pytest.fixture
def client(database: tuple[FaultProxy, str], tmp_path: Path) -> Iterator[TestClient]:
    kb = staffed_kb(tmp_path, database_url=database[1])
    app = create_app(kb=kb, dialogue=OfflineDialogue())
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def _wait_ready(client: TestClient, within_s: float = 15.0) -> float:
    started = time.monotonic()
    while time.monotonic() - started < within_s:
        if client.get("/readyz").status_code == 200:
            return time.monotonic() - started
        time.sleep(0.2)
    raise AssertionError(f"/readyz still red {within_s} s after the database came back")


def test_database_down_gives_json_503_red_readiness_and_recovers(client, database):
    proxy, _ = database
    assert client.get("/readyz").status_code == 200
    assert client.post(CHAT, json=QUESTION).status_code == 200

    proxy.set_mode(Mode.DOWN)
    started = time.monotonic()
    down = client.post(CHAT, json=QUESTION)
    assert time.monotonic() - started < 10
    assert down.status_code == 503, down.text
    error = down.json()["error"]
    assert error["code"] == "unavailable" and "gián đoạn" in error["message"]
    assert down.headers["Retry-After"]
    assert client.get("/readyz").status_code == 503
    for path in ("/api/v1/procedures?page=1", "/api/v1/admin/faq"):
        assert client.get(path).status_code in {401, 503}  # never a plain-text 500
    asked = client.post("/api/v1/ask", json={"question": "lệ phí đăng ký khai sinh"})
    assert asked.status_code in {200, 503} and asked.headers["content-type"].startswith(
        "application/json"
    )

    proxy.set_mode(Mode.PASS)
    recovered_s = _wait_ready(client)
    assert client.post(CHAT, json=QUESTION).status_code == 200
    assert recovered_s < 15


def test_cuts_in_the_middle_of_writes_leave_nothing_half_written(client, database, postgres_url):
    proxy, _ = database
    login = client.post("/api/v1/auth/login", json={"username": "editor1", "password": PASSWORD})
    csrf = {"X-CSRF-Token": login.json()["csrf_token"]}
    stop = threading.Event()

    def cut_now_and_then() -> None:
        rng = random.Random(7)
        while not stop.is_set():
            time.sleep(rng.uniform(0.05, 0.2))
            proxy.set_mode(Mode.DOWN)
            time.sleep(rng.uniform(0.02, 0.1))
            proxy.set_mode(Mode.PASS)

    cutter = threading.Thread(target=cut_now_and_then, daemon=True)
    cutter.start()
    statuses: list[int] = []
    created: dict[int, int] = {}  # entry id -> the version the client last saw
    try:
        for i in range(60):
            if created and i % 2:
                entry_id, version = random.Random(i).choice(sorted(created.items()))
                body = {**_faq(i), "version": version}
                response = client.put(f"/api/v1/admin/faq/{entry_id}", json=body, headers=csrf)
            else:
                response = client.post("/api/v1/admin/faq", json=_faq(i), headers=csrf)
            statuses.append(response.status_code)
            if response.status_code in {200, 201}:
                created[response.json()["id"]] = response.json()["version"]
            client.post(CHAT, json={"message": f"đăng ký khai sinh lần {i}"})
    finally:
        stop.set()
        cutter.join(timeout=5)
        proxy.set_mode(Mode.PASS)
    assert 500 not in statuses
    assert set(statuses) <= {200, 201, 409, 503}, statuses
    assert 503 in statuses and (200 in statuses or 201 in statuses)

    direct = create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with direct.connect() as connection:
            for entry in connection.execute(select(FaqEntry.id, FaqEntry.version)):
                numbers = connection.scalars(
                    select(FaqVersion.number)
                    .where(FaqVersion.entry_id == entry.id)
                    .order_by(FaqVersion.number)
                ).all()
                # every saved version is whole: numbered 1..n, the entry pointing at the last
                assert numbers == list(range(1, entry.version + 1)), (entry, numbers)
            versions = connection.scalar(select(func.count()).select_from(FaqVersion))
            audited = connection.scalar(
                select(func.count()).select_from(AuditEntry).where(AuditEntry.target.like("faq:%"))
            )
            assert versions == audited  # each saved version has its audit line, and only those
    finally:
        direct.dispose()


def _faq(i: int) -> dict[str, object]:
    return {
        "questions": [f"Bộ phận một cửa làm việc thứ bảy không? ({i})"],
        "answer": f"Bộ phận một cửa nhận hồ sơ sáng thứ bảy, lần sửa {i}.",
        "procedure_codes": [],
        "tags": [],
    }


@pytest.fixture
def redis_proxy() -> Iterator[tuple[FaultProxy, str]]:
    with FaultProxy(6379) as proxy:
        yield proxy, f"redis://127.0.0.1:{proxy.port}/15"


def test_blackholed_redis_fails_open_for_limits_and_closed_for_dossiers(redis_proxy, tmp_path):
    proxy, redis_url = redis_proxy
    kb = staffed_kb(tmp_path, redis_url=redis_url, rate_limit_ask="4/minute", trusted_proxy_hops=1)
    app = create_app(kb=kb, dialogue=OfflineDialogue())
    limiter = RedisAttemptLimiter(redis_url)
    quota = [Quota(f"fault:{time.time_ns()}", 3, 60)]
    with TestClient(app, raise_server_exceptions=False) as client:
        ask = {"question": "lệ phí đăng ký khai sinh"}
        # a client of its own, so that counts left in Redis by an earlier run do not matter
        headers = {"X-Forwarded-For": str(ipaddress.IPv6Address(uuid.uuid4().int))}
        assert client.post("/api/v1/ask", json=ask, headers=headers).status_code == 200
        assert limiter.reserve(quota)

        proxy.set_mode(Mode.STALL)
        for _ in range(6):  # beyond the limit: counters unreachable, citizens still answered
            started = time.monotonic()
            response = client.post("/api/v1/ask", json=ask, headers=headers)
            assert response.status_code == 200 and time.monotonic() - started < 3
        started = time.monotonic()
        assert not limiter.reserve(quota)  # a look-up is refused rather than left uncounted
        assert time.monotonic() - started < 3

        proxy.set_mode(Mode.PASS)
        statuses = [
            client.post("/api/v1/ask", json=ask, headers=headers).status_code for _ in range(6)
        ]
        assert 429 in statuses  # counting again once Redis answers, without a restart
        assert limiter.reserve(quota)
