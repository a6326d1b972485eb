"""API replicas 1 → 2 and voice workers 1 → 2 behind HAProxy (``hotline cluster up``).

For each level: throughput and p50/p95 of POST /api/v1/ask and of chat turns (knowledge-base
answers, or with --rasa through Rasa), then N simultaneous calls through the balancer's
AudioSocket port (benchmarks/voice_load.py's caller: real recordings from ../shared/data/speech,
espeak-ng otherwise) with the turn latency p95 and the workers' CPU seconds per second of the
callers' audio.

One cluster is started with two of each; level 1 runs with the second replica and worker stopped
(the balancer marks them down), level 2 after starting them again. Every node shares this
machine's cores: on 2 cores expect flat or negative scaling, which is what this measures.

    .venv/bin/python benchmarks/cluster_scaling.py --duration 20 --clients 8 --calls 4
    .venv/bin/python benchmarks/cluster_scaling.py --rasa
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from voice_load import _clips, _one_call

from api.cli.bench import default_questions
from api.cli.cluster import Cluster, ClusterConfig
from api.cli.harness import cpu_seconds, percentile

FOLLOW_UPS = ["còn lệ phí thì sao?", "nộp online được không", "mất bao lâu"]


def _address(rng: random.Random) -> str:
    return f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


async def _ask(http: httpx.AsyncClient, rng: random.Random, lat: list[float]) -> int:
    started = time.perf_counter()
    body = {"question": rng.choice(default_questions())}
    response = await http.post("/api/v1/ask", json=body, headers={"X-Forwarded-For": _address(rng)})
    if response.status_code == 200:
        lat.append(time.perf_counter() - started)
    return response.status_code


async def _conversation(http: httpx.AsyncClient, rng: random.Random, lat: list[float]) -> int:
    """Three turns from one address: a question and two follow-ups; the last status."""
    headers, session, status = {"X-Forwarded-For": _address(rng)}, None, 0
    for text in [rng.choice(default_questions()), *rng.sample(FOLLOW_UPS, 2)]:
        started = time.perf_counter()
        body = {"session_id": session, "message": text}
        response = await http.post("/api/v1/chat", json=body, headers=headers)
        status = response.status_code
        if status != 200:
            return status
        lat.append(time.perf_counter() - started)
        session = response.json()["session_id"]
    return status


async def _phase(url: str, kind: str, clients: int, duration_s: float) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0

    async def client(seed: int, until: float) -> None:
        nonlocal errors
        rng = random.Random(seed)
        while time.monotonic() < until:
            try:
                if kind == "ask":
                    status = await _ask(http, rng, latencies)
                else:
                    status = await _conversation(http, rng, latencies)
            except httpx.HTTPError:
                status = 0
            errors += status != 200

    limits = httpx.Limits(max_connections=clients, keepalive_expiry=2)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as http:
        until = time.monotonic() + duration_s
        await asyncio.gather(*(client(seed, until) for seed in range(clients)))
    return {
        "requests_per_s": round(len(latencies) / duration_s, 2),
        "p50_ms": round(percentile(latencies, 0.5) * 1000, 1),
        "p95_ms": round(percentile(latencies, 0.95) * 1000, 1),
        "ok": len(latencies),
        "errors": errors,
    }


def _cpu(cluster: Cluster, names: list[str]) -> float:
    return sum(cpu_seconds(p) for n in names if (p := cluster.nodes[n].pid) is not None)


def api_level(cluster: Cluster, replicas: int, args: argparse.Namespace) -> dict[str, Any]:
    names = cluster.api_names[:replicas]
    level: dict[str, Any] = {"replicas": replicas}
    for kind in ("ask", "chat"):
        before = _cpu(cluster, names)
        level[kind] = asyncio.run(_phase(cluster.lb_url, kind, args.clients, args.duration))
        level[kind]["api_cpu_cores"] = round((_cpu(cluster, names) - before) / args.duration, 2)
    level["chat"]["through"] = "rasa" if args.rasa else "knowledge base only"
    return level


async def _calls(port: int, calls: int, clips: list[bytes], turns: int) -> list[list[float]]:
    return await asyncio.gather(*(_one_call(port, clips, turns, i) for i in range(calls)))


def voice_level(
    cluster: Cluster, workers: int, clips: list[bytes], args: argparse.Namespace
) -> dict[str, Any]:
    names = cluster.voice_names[:workers]
    audio_s = sum(
        len(clips[(i + t) % len(clips)]) / 16000
        for i in range(args.calls)
        for t in range(args.turns)
    )
    before, started = _cpu(cluster, names), time.monotonic()
    results = asyncio.run(_calls(cluster.lb_audiosocket_port, args.calls, clips, args.turns))
    cpu, wall = _cpu(cluster, names) - before, time.monotonic() - started
    latencies = [x for r in results for x in r]
    return {
        "workers": workers,
        "calls": args.calls,
        "turns_answered": f"{len(latencies)}/{args.calls * args.turns}",
        "turn_p50_s": round(percentile(latencies, 0.5), 3),
        "turn_p95_s": round(percentile(latencies, 0.95), 3),
        "cpu_s_per_audio_s": round(cpu / audio_s, 3),
        "workers_cpu_cores": round(cpu / wall, 2),
    }


def run(
    cluster: Cluster, clips: list[bytes], args: argparse.Namespace, report: dict[str, Any]
) -> None:
    with cluster:
        report["startup_s"] = cluster.startup_s
        second = ["api-2", "voice-2"]
        for name in second:
            cluster.nodes[name].stop()
        cluster.wait_states({"api/api-2": "DOWN", "voice/voice-2": "DOWN"}, 30)
        for level in (1, 2):
            if level == 2:
                for name in second:
                    cluster.restart(name)
                cluster.wait_states(cluster.expected_states(), 30)
            report["api"].append(api_level(cluster, level, args))
            print(json.dumps(report["api"][-1], ensure_ascii=False), file=sys.stderr)
            report["voice"].append(voice_level(cluster, level, clips, args))
            print(json.dumps(report["voice"][-1], ensure_ascii=False), file=sys.stderr)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=20, help="seconds per HTTP phase")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--calls", type=int, default=4, help="simultaneous calls")
    parser.add_argument("--turns", type=int, default=2, help="questions per call")
    parser.add_argument("--rasa", action="store_true", help="chat turns through Rasa")
    parser.add_argument(
        "--database-url",
        default=f"postgresql://postgres@127.0.0.1:5432/hotline_cluster_bench_{uuid.uuid4().hex[:6]}",
        help="created, and dropped at the end",
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    args = parser.parse_args()
    clips = _clips(12)
    report: dict[str, Any] = {"cores": os.cpu_count(), "api": [], "voice": []}
    with tempfile.TemporaryDirectory(prefix="hotline-cluster-bench-") as root:
        config = ClusterConfig(
            database_url=args.database_url,
            redis_url=args.redis_url,
            root=Path(root),
            rasa=args.rasa,
            drop_database=True,
        )
        run(Cluster(config), clips, args, report)
    print(json.dumps(report, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
