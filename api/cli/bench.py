"""Load generator for ``hotline bench ask`` (loopback only, bounded request count)."""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

import httpx

DEFAULT_QUESTIONS = [
    "làm giấy khai sinh cho con cần giấy tờ gì",
    "lam can cuoc mat bao lau",
    "đăng ký kết hôn ở đâu",
    "lệ phí cấp hộ chiếu là bao nhiêu",
    "đổi bằng lái xe nộp online được không",
    "xin phiếu lý lịch tư pháp mất mấy ngày",
    "đăng ký thường trú cho con cần gì",
    "chung thuc ban sao bao nhieu tien",
    "thủ tục đăng ký hộ kinh doanh",
    "cấp lại thẻ bảo hiểm y tế bị mất",
    "xin giấy phép xây dựng nhà ở riêng lẻ",
    "thời tiết hôm nay thế nào",
    "sang tên sổ đỏ cần giấy tờ gì",
    "dang ky tam tru o dau",
    "khai tử cho người thân",
    "xác nhận tình trạng hôn nhân để đi làm hồ sơ",
]


def default_questions() -> list[str]:
    return list(DEFAULT_QUESTIONS)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def run_level(url: str, questions: list[str], total: int, clients: int) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    counter = iter(range(total))

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal errors
        for n in counter:
            body = {"question": questions[n % len(questions)], "top_k": 5}
            started = time.perf_counter()
            try:
                response = await http.post(f"{url}/api/v1/ask", json=body)
                if response.status_code != 200:
                    errors += 1
            except httpx.HTTPError:
                errors += 1
            latencies.append((time.perf_counter() - started) * 1000)

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=30, limits=limits) as http:
        # Warm the connection and the server's code paths, not its query cache: the questions
        # themselves are sent cold, so a file of distinct questions measures uncached latency.
        await http.post(f"{url}/api/v1/ask", json={"question": "xin chào"})
        started = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(clients)))
        elapsed = time.perf_counter() - started
    return {
        "clients": clients,
        "requests": len(latencies),
        "errors": errors,
        "p50_ms": round(statistics.median(latencies), 2),
        "p95_ms": round(_percentile(latencies, 0.95), 2),
        "throughput_rps": round(len(latencies) / elapsed, 1),
    }


async def run_levels(
    url: str, questions: list[str], total: int, levels: list[int]
) -> dict[str, Any]:
    """First every question once, one client (cold: nothing cached for them), then the same
    questions again at each concurrency level (repeated: what the answer cache serves)."""
    distinct = list(dict.fromkeys(questions))
    return {
        "url": url,
        "distinct_cold": await run_level(url, distinct, len(distinct), 1),
        "repeated": [await run_level(url, distinct, total, c) for c in levels],
    }
