"""Traffic for the failure scenarios: chat and ask clients through the balancer while a replica
is killed, and phone calls through the balancer's AudioSocket port while a worker is killed."""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np

from api.cli.cluster import Cluster
from api.cli.harness import percentile
from voice.transports.audiosocket_client import AudioSocketCaller

QUESTIONS = [
    "làm giấy khai sinh cho con cần giấy tờ gì",
    "lệ phí cấp hộ chiếu là bao nhiêu",
    "đăng ký kết hôn ở đâu",
    "xin phiếu lý lịch tư pháp mất mấy ngày",
]
FOLLOW_UPS = ["còn lệ phí thì sao?", "nộp online được không", "mất bao lâu"]
GREETING_WITHIN_S = 30.0


@dataclass(frozen=True)
class Request:
    started: float
    ended: float
    kind: str
    status: int  # 0: no HTTP answer at all
    error: str = ""  # then the client's exception


async def _client(http: httpx.AsyncClient, seed: int, until: float, out: list[Request]) -> None:
    """Alternately a question and a chat turn; a new conversation every three turns."""
    rng, session, turn = random.Random(seed), None, 0
    while time.monotonic() < until:
        turn += 1
        if turn % 2:
            kind, path = "ask", "/api/v1/ask"
            body: dict[str, Any] = {"question": rng.choice(QUESTIONS)}
        else:
            kind, path = "chat", "/api/v1/chat"
            text = rng.choice(FOLLOW_UPS) if session else rng.choice(QUESTIONS)
            body = {"session_id": session, "message": text}
        started, error = time.monotonic(), ""
        try:
            response = await http.post(path, json=body)
            status = response.status_code
        except httpx.HTTPError as exc:
            status, error = 0, type(exc).__name__
        out.append(Request(started, time.monotonic(), kind, status, error))
        if kind == "chat":
            session = response.json()["session_id"] if status == 200 and turn % 6 else None


async def _watch_down(cluster: Cluster, server: str, since: float, within_s: float) -> float | None:
    """Seconds from ``since`` until the balancer has ``server`` down."""
    while time.monotonic() - since < within_s:
        states = await asyncio.to_thread(cluster.states)
        if states.get(server, "").startswith("DOWN"):
            return time.monotonic() - since
        await asyncio.sleep(0.05)
    return None


async def drive(
    cluster: Cluster, clients: int, duration_s: float, kill_at_s: float, victim: str
) -> dict[str, Any]:
    """``clients`` concurrent clients through the balancer for ``duration_s``; ``victim`` is
    SIGKILLed ``kill_at_s`` in. Failed requests are split by when they started: before the kill
    (in flight on the victim), before the balancer marked it down, after."""
    requests: list[Request] = []
    killed: list[float] = []

    async def killer() -> float | None:
        await asyncio.sleep(kill_at_s)
        killed.append(time.monotonic())
        await asyncio.to_thread(cluster.kill, victim)
        return await _watch_down(cluster, f"api/{victim}", killed[0], duration_s)

    limits = httpx.Limits(max_connections=clients, keepalive_expiry=2)
    async with httpx.AsyncClient(base_url=cluster.lb_url, timeout=30, limits=limits) as http:
        until = time.monotonic() + duration_s
        down_s, *_ = await asyncio.gather(
            killer(), *(_client(http, seed, until, requests) for seed in range(clients))
        )
    kill = killed[0]
    down_at = kill + down_s if down_s is not None else float("inf")
    failed = [r for r in requests if r.status != 200]
    ok = [r.ended - r.started for r in requests if r.status == 200]
    return {
        "clients": clients,
        "requests": len(requests),
        "throughput_rps": round(len(requests) / duration_s, 1),
        "ok_p95_ms": round(percentile(ok, 0.95) * 1000),
        "marked_down_s": None if down_s is None else round(down_s, 2),
        "errors": len(failed),
        "error_statuses": sorted({r.status for r in failed}),
        "client_exceptions": sorted({r.error for r in failed if r.error}),
        "errors_in_flight_at_kill": sum(r.started < kill for r in failed),
        "errors_before_marked_down": sum(kill <= r.started < down_at for r in failed),
        "errors_after_marked_down": sum(r.started >= down_at for r in failed),
        "failed_kinds": sorted({r.kind for r in failed}),
        "recovery_s": round(max((r.ended for r in failed), default=kill) - kill, 2),
    }


# --- calls ---------------------------------------------------------------------------------------


async def _call(port: int) -> tuple[AudioSocketCaller, float | None]:
    caller = AudioSocketCaller()
    started = time.monotonic()
    await caller.connect("127.0.0.1", port)
    greeted = await caller.wait_for_audio_after(0, GREETING_WITHIN_S)
    return caller, None if greeted is None else greeted - started


def _question_audio() -> bytes:
    from voice.tts.engines import EspeakSynthesizer

    speech = EspeakSynthesizer("vi").synthesize("đăng ký khai sinh cần giấy tờ gì")
    quiet = np.random.default_rng(7).normal(0, 20, 8000).astype("<i2").tobytes()  # 1 s
    return speech + quiet


async def _answers(caller: AudioSocketCaller, audio: bytes) -> float | None:
    """Seconds from the end of a spoken question to the first answer frame."""
    started = time.monotonic()
    await caller.speak(audio)
    speech_end = started + (len(audio) - 16000) / 16000
    answered = await caller.wait_for_audio_after(speech_end, 20.0)
    return None if answered is None else answered - speech_end


async def place_calls(cluster: Cluster, calls: int, new_calls: int, victim: str) -> dict[str, Any]:
    port = cluster.lb_audiosocket_port
    placed = [await _call(port) for _ in range(calls)]  # one by one: leastconn alternates
    callers = [c for c, _ in placed]
    try:
        at_kill = await asyncio.to_thread(cluster.stats_rows)
        on_victim = int(at_kill[f"voice/{victim}"]["scur"])
        killed = time.monotonic()
        await asyncio.to_thread(cluster.kill, victim)
        down_s = await _watch_down(cluster, f"voice/{victim}", killed, 15.0)
        await asyncio.sleep(1.0)
        survivors = [c for c in callers if not c.hung_up.is_set()]
        answer_s = await _answers(survivors[0], await asyncio.to_thread(_question_audio))
        fresh = [await _call(port) for _ in range(new_calls)]
        callers += [c for c, _ in fresh]
        after = await asyncio.to_thread(cluster.stats_rows)
        others = [n for n in after if n.startswith("voice/") and n != f"voice/{victim}"]
        return {
            "calls": calls,
            "greeting_s": [round(s, 2) if s is not None else None for _, s in placed],
            "on_victim_at_kill": on_victim,
            "dropped": calls - len(survivors),
            "survivors_still_up": sum(not c.hung_up.is_set() for c in survivors),
            "survivor_answered": answer_s is not None,
            "survivor_answer_s": None if answer_s is None else round(answer_s, 2),
            "marked_down_s": None if down_s is None else round(down_s, 2),
            "new_calls": new_calls,
            "new_calls_greeted": sum(s is not None for _, s in fresh),
            "new_call_greeting_s": [round(s, 2) if s is not None else None for _, s in fresh],
            "calls_on_other_workers": sum(int(after[n]["scur"]) for n in others),
        }
    finally:
        await asyncio.gather(*(c.hang_up() for c in callers), return_exceptions=True)
