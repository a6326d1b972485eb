"""Mixed load on the API: citizens asking, chatting and looking up dossiers, a few clients
hammering from one address, and one editor publishing FAQ entries — server errors, 429s,
latency percentiles and the API's resident memory sampled as it runs.

Starts ``hotline serve`` (and ``rasa run`` with --rasa) on loopback ports over a throw-away data
dir with the sample catalogue, with the production limits. Each citizen conversation comes from
an address of its own (through one trusted proxy hop), as a province's citizens would.

    .venv/bin/python benchmarks/load_mix.py --clients 64 --duration 60
    .venv/bin/python benchmarks/load_mix.py --clients 16 --duration 600 --sample-every 30  # soak
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import os
import random
import subprocess
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from api.cli.bench import default_questions
from api.cli.harness import hotline_command, percentile, rss_mb, served_api
from knowledge_base.settings import Settings
from nlu.runtime import RasaProcess, free_port, train

REPO = Path(__file__).resolve().parents[1]
EDITOR, REVIEWER, PASSWORD = "bench-editor", "bench-reviewer", "bench-password-0123"
FOLLOW_UPS = ["còn lệ phí thì sao?", "nộp online được không", "mất bao lâu", "cảm ơn"]
LOOK_UP = ["tra cứu hồ sơ", "000.00.12.H55-240101-0001", "5678"]
STAFF_LIMITS = httpx.Limits(keepalive_expiry=2)  # the editor pauses between publishes
WRONG_LOOK_UP = ["tra cứu hồ sơ", "000.00.12.H55-240101-9999", "1111"]


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, dict[int, int]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(int))
    )
    degraded: int = 0
    transport_errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def record(self, kind: str, status: int, started: float) -> None:
        self.statuses[kind][status] += 1
        if 200 <= status < 300:
            self.latencies[kind].append((time.perf_counter() - started) * 1000)

    def report(self) -> dict[str, Any]:
        kinds: dict[str, Any] = {}
        for kind, statuses in sorted(self.statuses.items()):
            served = self.latencies[kind]
            kinds[kind] = {
                "requests": sum(statuses.values()),
                "statuses": dict(sorted(statuses.items())),
                "p50_ms": round(percentile(served, 0.5), 1),
                "p95_ms": round(percentile(served, 0.95), 1),
            }
        everything = [s for statuses in self.statuses.values() for s in statuses.items()]
        return {
            "requests": sum(n for _, n in everything),
            "server_errors": sum(n for s, n in everything if s >= 500 or s == 0),
            "rate_limited": sum(n for s, n in everything if s == 429),
            "degraded_chat_turns": self.degraded,
            "transport_errors": dict(self.transport_errors),
            "by_kind": kinds,
        }


def _address(rng: random.Random) -> str:
    return str(ipaddress.IPv4Address(rng.randrange(0x0A000001, 0x0AFFFFFE)))  # 10.0.0.0/8


async def _post(
    http: httpx.AsyncClient, tally: Tally, kind: str, path: str, body: object, address: str
) -> httpx.Response | None:
    started = time.perf_counter()
    try:
        response = await http.post(path, json=body, headers={"X-Forwarded-For": address})
    except httpx.HTTPError as exc:
        tally.record(kind, 0, started)
        tally.transport_errors[type(exc).__name__] += 1
        return None
    tally.record(kind, response.status_code, started)
    return response


async def citizen(http: httpx.AsyncClient, tally: Tally, seed: int, until: float) -> None:
    """Conversation after conversation, each from a new address."""
    rng, questions = random.Random(seed), default_questions()
    while time.monotonic() < until:
        address = _address(rng)
        await _post(http, tally, "ask", "/api/v1/ask", {"question": rng.choice(questions)}, address)
        turns = [rng.choice(questions), *rng.sample(FOLLOW_UPS, 2)]
        if rng.random() < 0.3:
            turns += rng.choice([LOOK_UP, WRONG_LOOK_UP])
        session: str | None = None
        for text in turns:
            if time.monotonic() >= until:
                return
            body = {"session_id": session, "message": text}
            response = await _post(http, tally, "chat", "/api/v1/chat", body, address)
            if response is not None and response.status_code == 200:
                session = response.json()["session_id"]
                tally.degraded += bool(response.json()["degraded"])


async def hammer(http: httpx.AsyncClient, tally: Tally, seed: int, until: float) -> None:
    """One address asking as fast as it can: the limits must hold it back, nothing else."""
    rng, questions = random.Random(seed), default_questions()
    address = _address(rng)
    while time.monotonic() < until:
        body = {"question": rng.choice(questions)}
        await _post(http, tally, "hammer", "/api/v1/ask", body, address)


async def editor(url: str, tally: Tally, until: float, every_s: float) -> None:
    """An editor drafts and submits an entry, a reviewer publishes it (the index rebuilds)."""
    async with (
        httpx.AsyncClient(base_url=url, timeout=60, limits=STAFF_LIMITS) as staff_a,
        httpx.AsyncClient(base_url=url, timeout=60, limits=STAFF_LIMITS) as staff_b,
    ):
        tokens = {}
        for client, name in ((staff_a, EDITOR), (staff_b, REVIEWER)):
            login = await client.post(
                "/api/v1/auth/login", json={"username": name, "password": PASSWORD}
            )
            login.raise_for_status()
            tokens[name] = {"X-CSRF-Token": login.json()["csrf_token"]}
        n = 0
        while time.monotonic() < until:
            n += 1
            started = time.perf_counter()
            faq = {
                "questions": [f"Bộ phận một cửa có làm việc ngày thứ bảy tuần {n} không?"],
                "answer": f"Có, buổi sáng thứ bảy tuần {n} từ 7 giờ 30 đến 11 giờ 30.",
                "procedure_codes": [],
                "tags": ["giờ làm việc"],
            }
            created = await staff_a.post("/api/v1/admin/faq", json=faq, headers=tokens[EDITOR])
            tally.record("publish", created.status_code, started)
            if created.status_code != 201:
                continue
            entry = created.json()["id"]
            steps = (
                (staff_a, f"/api/v1/admin/faq/{entry}/submit", EDITOR),
                (staff_b, f"/api/v1/admin/faq/{entry}/publish", REVIEWER),
            )
            for client, path, name in steps:
                started = time.perf_counter()
                response = await client.post(path, headers=tokens[name])
                tally.record("publish", response.status_code, started)
            await asyncio.sleep(every_s)


async def sample_rss(pids: dict[str, int], every_s: float, until: float) -> list[dict[str, Any]]:
    samples = []
    started = time.monotonic()
    while True:
        samples.append(
            {"t_s": round(time.monotonic() - started), **{k: rss_mb(p) for k, p in pids.items()}}
        )
        if time.monotonic() + every_s > until:
            return samples
        await asyncio.sleep(every_s)


async def run(url: str, pids: dict[str, int], args: argparse.Namespace) -> dict[str, Any]:
    tally = Tally()
    hammers = max(1, args.clients // 16)
    # idle connections are dropped before uvicorn's 5 s keep-alive ends, so that a request is
    # never sent on a connection the server is closing (a client-side race, not a server error)
    limits = httpx.Limits(
        max_connections=args.clients, max_keepalive_connections=args.clients, keepalive_expiry=2
    )
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as http:
        until = time.monotonic() + args.duration
        rss_start = {k: rss_mb(p) for k, p in pids.items()}
        sampler = asyncio.create_task(sample_rss(pids, args.sample_every, until))
        await asyncio.gather(
            *(citizen(http, tally, seed, until) for seed in range(args.clients - hammers)),
            *(hammer(http, tally, 10_000 + seed, until) for seed in range(hammers)),
            editor(url, tally, until, args.publish_every),
        )
        samples = await sampler
        samples.append({"t_s": round(args.duration), **{k: rss_mb(p) for k, p in pids.items()}})
    return {
        "clients": args.clients,
        "hammering_clients": hammers,
        "duration_s": args.duration,
        "rasa": args.rasa,
        "database": args.database_url or "sqlite (throw-away)",
        "redis": bool(args.redis_url),
        **tally.report(),
        "rss_mb_start": rss_start,
        "rss_mb_end": samples[-1],
        "rss_mb_max": {k: max(s[k] for s in samples) for k in pids},
        "rss_samples": samples,
    }


@contextmanager
def _rasa(settings: Settings, api_url: str, enabled: bool, port: int) -> Iterator[int | None]:
    if not enabled:
        yield None
        return
    rasa = RasaProcess(settings, port, api_url)
    rasa.start()
    try:
        assert rasa.process is not None
        yield rasa.process.pid
    finally:
        rasa.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--duration", type=float, default=60)
    parser.add_argument("--sample-every", type=float, default=10, help="RSS sampling, seconds")
    parser.add_argument("--publish-every", type=float, default=5)
    parser.add_argument("--database-url", default="", help="default: SQLite in a temp dir")
    parser.add_argument("--redis-url", default="", help="shared limits (as in production)")
    parser.add_argument("--rasa", action="store_true", help="chat through a real Rasa")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="hotline-load-"))
    rasa_port = free_port()
    env = {
        "HOTLINE_DATA_DIR": str(data_dir),
        "HOTLINE_TRUSTED_PROXY_HOPS": "1",
        "HOTLINE_RASA_URL": f"http://127.0.0.1:{rasa_port}" if args.rasa else "",
        "HOTLINE_RASA_DIR": str(REPO / "var" / "rasa-test"),
        "HOTLINE_REDIS_URL": args.redis_url,
        **({"HOTLINE_DATABASE_URL": args.database_url} if args.database_url else {}),
    }
    for name, role in ((EDITOR, "editor"), (REVIEWER, "reviewer")):
        subprocess.run(
            hotline_command(
                "users", "create", "--username", name, "--role", role, "--password-stdin"
            ),
            input=PASSWORD + "\n",
            text=True,
            env={**os.environ, **env},
            check=True,
            stdout=subprocess.DEVNULL,
        )
    settings = Settings(
        data_dir=data_dir,
        rasa_url=env["HOTLINE_RASA_URL"],
        rasa_dir=Path(env["HOTLINE_RASA_DIR"]),
    )
    if args.rasa:
        train(settings)
    with (
        served_api(env, args.workers) as (url, api_pid),
        _rasa(settings, url, args.rasa, rasa_port) as rasa_pid,
    ):
        pids = {"api": api_pid, **({"rasa": rasa_pid} if rasa_pid else {})}
        report = asyncio.run(run(url, pids, args))
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
