"""Chat capacity: concurrent scripted conversations through /api/v1/chat, through Rasa and on
the knowledge-base-only path (``HOTLINE_RASA_URL`` empty) in the same run.

Each client plays conversation after conversation (5–15 turns: greeting, procedure questions
in repeated and distinct wordings, follow-ups, a dossier look-up, thanks, goodbye and rating);
every level runs for ``--duration`` seconds after an unmeasured warm-up. Per level: turns/s,
p50/p95, errors, degraded turns, and the CPU-seconds per turn of the API and of Rasa.

    .venv/bin/python benchmarks/chat_load.py --levels 1 8 16 32 --duration 30
    # the full shared catalogue, imported once into a data dir that later runs reuse:
    .venv/bin/python benchmarks/chat_load.py --data-dir /tmp/hotline-full \\
        --catalogue ../shared/data/catalogue/dichvucong-2026-6-ministries.jsonl.gz \\
        ../shared/data/catalogue/bqp-2026.jsonl.gz
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from api.cli.bench import default_questions
from api.cli.harness import (
    cpu_seconds,
    hotline_command,
    percentile,
    rasa_servers,
    rss_mb,
    served_api,
)
from knowledge_base.settings import Settings
from nlu.runtime import free_port

REPO = Path(__file__).resolve().parents[1]
OPENERS = ["xin chào", "chào bạn", "alo tổng đài ơi"]
FOLLOW_UPS = ["còn lệ phí thì sao?", "nộp online được không", "mất bao lâu", "nộp ở đâu"]
LOOK_UP = ["tra cứu hồ sơ", "000.00.12.H55-240101-0001", "5678"]
CLOSING = ["cảm ơn", "tạm biệt", "5"]
DISTINCT_SHARE = 0.2  # opening questions worded as no one asked before (search not cached)


def distinct_questions() -> list[str]:
    path = REPO / "tests" / "data" / "everyday_dev.jsonl"
    return [json.loads(line)["q"] for line in path.read_text(encoding="utf-8").splitlines()]


def conversation(rng: random.Random, repeated: list[str], distinct: list[str]) -> list[str]:
    """One citizen's scripted conversation, 5 to 15 turns."""
    turns = [rng.choice(OPENERS)] if rng.random() < 0.7 else []
    for n in range(rng.choice([1, 1, 2, 3])):
        fresh = n == 0 and rng.random() < DISTINCT_SHARE
        turns.append(rng.choice(distinct if fresh else repeated))
        turns += rng.sample(FOLLOW_UPS, rng.randint(1, 3))
    if rng.random() < 0.3:
        turns += LOOK_UP
    while len(turns) < 5 - len(CLOSING):
        turns.append(rng.choice(FOLLOW_UPS))
    return turns[: 15 - len(CLOSING)] + CLOSING


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    degraded: int = 0
    conversations: int = 0


async def citizen(
    http: httpx.AsyncClient, tally: Tally, rng: random.Random, until: float, pool: list[list[str]]
) -> None:
    while time.monotonic() < until:
        session: str | None = None
        tally.conversations += 1
        for text in rng.choice(pool):
            if time.monotonic() >= until:
                return
            started = time.perf_counter()
            try:
                response = await http.post(
                    "/api/v1/chat", json={"session_id": session, "message": text}
                )
            except httpx.HTTPError:
                tally.errors += 1
                break
            tally.latencies.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                tally.errors += 1
                break
            body = response.json()
            session = body["session_id"]
            tally.degraded += bool(body["degraded"])


async def run_level(
    url: str, pids: dict[str, int], clients: int, duration: float, pool: list[list[str]]
) -> dict[str, Any]:
    tally = Tally()
    limits = httpx.Limits(
        max_connections=clients, max_keepalive_connections=clients, keepalive_expiry=2
    )
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as http:
        cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        started = time.monotonic()
        until = started + duration
        await asyncio.gather(
            *(citizen(http, tally, random.Random(seed), until, pool) for seed in range(clients))
        )
        elapsed = time.monotonic() - started
        cpu = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
    turns = len(tally.latencies)
    return {
        "clients": clients,
        "turns": turns,
        "conversations": tally.conversations,
        "turns_per_s": round(turns / elapsed, 1),
        "p50_ms": round(statistics.median(tally.latencies), 1) if turns else 0.0,
        "p95_ms": round(percentile(tally.latencies, 0.95), 1),
        "errors": tally.errors,
        "degraded_turns": tally.degraded,
        **{
            f"{name}_cpu_ms_per_turn": round(1000 * s / max(turns, 1), 1) for name, s in cpu.items()
        },
        "cores_busy": round(sum(cpu.values()) / elapsed, 2),
    }


async def run_path(
    url: str, pids: dict[str, int], args: argparse.Namespace, pool: list[list[str]]
) -> list[dict[str, Any]]:
    await run_level(url, pids, 4, args.warm_up, pool)  # code paths, caches, connections
    return [await run_level(url, pids, c, args.duration, pool) for c in args.levels]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 8, 16, 32])
    parser.add_argument("--duration", type=float, default=30, help="seconds per level")
    parser.add_argument("--warm-up", type=float, default=15, help="seconds, not measured")
    parser.add_argument("--conversations", type=int, default=200, help="distinct scripts")
    parser.add_argument("--data-dir", type=Path, help="default: a throw-away dir")
    parser.add_argument("--catalogue", type=Path, nargs="*", default=[], help="import first")
    parser.add_argument("--redis-url", default="", help="Rasa's lock store and shared limits")
    parser.add_argument("--rasa-processes", type=int, default=1)
    parser.add_argument("--skip-kb-only", action="store_true")
    args = parser.parse_args()

    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="hotline-chat-load-"))
    rasa_ports = [free_port() for _ in range(args.rasa_processes)]
    env = {
        "HOTLINE_DATA_DIR": str(data_dir),
        "HOTLINE_RASA_URL": ",".join(f"http://127.0.0.1:{port}" for port in rasa_ports),
        "HOTLINE_RASA_DIR": str(REPO / "var" / "rasa-test"),
        "HOTLINE_REDIS_URL": args.redis_url,
        # one loopback client plays many citizens here
        "HOTLINE_RATE_LIMIT_CHAT": "1000000/minute",
        "HOTLINE_RATE_LIMIT_NEW_CONVERSATIONS": "1000000/minute",
    }
    if args.catalogue:
        subprocess.run(
            hotline_command("kb", "import", *map(str, args.catalogue)),
            env={**os.environ, **env},
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    settings = Settings(
        data_dir=data_dir,
        rasa_url=env["HOTLINE_RASA_URL"],
        rasa_dir=Path(env["HOTLINE_RASA_DIR"]),
        redis_url=args.redis_url,
    )
    rng = random.Random(7)
    repeated, distinct = default_questions(), distinct_questions()
    pool = [conversation(rng, repeated, distinct) for _ in range(args.conversations)]
    report: dict[str, Any] = {
        "levels": args.levels,
        "duration_s": args.duration,
        "mean_turns_per_conversation": round(statistics.mean(map(len, pool)), 1),
        "rasa_processes": args.rasa_processes,
        "redis": bool(args.redis_url),
    }
    with (
        served_api(env) as (url, api_pid),
        rasa_servers(settings, url, rasa_ports) as servers,
    ):
        pids = {"api": api_pid}
        pids.update({f"rasa{n}": s.process.pid for n, s in enumerate(servers) if s.process})
        report["rasa_startup_s"] = [round(s.startup_s, 1) for s in servers]
        report["rasa"] = asyncio.run(run_path(url, pids, args, pool))
        report["rasa_rss_mb"] = [rss_mb(pid) for name, pid in pids.items() if name != "api"]
        report["api_rss_mb"] = rss_mb(api_pid)
    if not args.skip_kb_only:
        with served_api({**env, "HOTLINE_RASA_URL": ""}) as (url, api_pid):
            report["kb_only"] = asyncio.run(run_path(url, {"api": api_pid}, args, pool))
            for rasa_level, kb_level in zip(report["rasa"], report["kb_only"], strict=True):
                rasa_level["share_of_kb_only"] = round(
                    rasa_level["turns_per_s"] / max(kb_level["turns_per_s"], 0.1), 2
                )
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
