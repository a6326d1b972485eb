"""Chat-turn latency through FastAPI + Rasa + the action webhook, and Rasa's start-up cost.

Starts the API (``hotline serve``) and ``rasa run`` on free loopback ports over a throw-away
data dir with the sample catalogue, then plays scripted conversations turn by turn:

    .venv/bin/python benchmarks/chat_turns.py --turns 200
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from api.cli.harness import percentile, rss_mb, wait_ready
from knowledge_base.settings import Settings
from nlu.runtime import RasaProcess, free_port, train

REPO = Path(__file__).resolve().parents[1]
CONVERSATION = [
    "xin chào",
    "làm căn cước lần đầu cần giấy tờ gì",
    "còn lệ phí thì sao?",
    "nộp online được không",
    "đăng ký kết hôn mất bao lâu",
    "tra cứu hồ sơ",
    "000.00.12.H55-240101-0001",
    "5678",
    "cảm ơn",
    "tạm biệt",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=200)
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="hotline-bench-"))
    api_port, rasa_port = free_port(), free_port()
    env = {
        **os.environ,
        "HOTLINE_DATA_DIR": str(data_dir),
        "HOTLINE_RASA_URL": f"http://127.0.0.1:{rasa_port}",
        "HOTLINE_RASA_DIR": str(REPO / "var" / "rasa-test"),
        # one loopback client plays many citizens here
        "HOTLINE_RATE_LIMIT_CHAT": "100000/minute",
        "HOTLINE_RATE_LIMIT_NEW_CONVERSATIONS": "100000/minute",
    }
    settings = Settings(
        data_dir=data_dir,
        rasa_url=env["HOTLINE_RASA_URL"],
        rasa_dir=Path(env["HOTLINE_RASA_DIR"]),
    )
    train(settings)
    api_url = f"http://127.0.0.1:{api_port}"
    hotline = str(Path(sys.executable).with_name("hotline"))
    api = subprocess.Popen(
        [hotline, "serve", "--port", str(api_port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    rasa = RasaProcess(settings, rasa_port, api_url)
    try:
        wait_ready(api_url)
        rasa.start()
        latencies: list[float] = []
        degraded = 0
        session: str | None = None
        with httpx.Client(timeout=30) as client:
            for n in range(args.turns):
                message = CONVERSATION[n % len(CONVERSATION)]
                if n % len(CONVERSATION) == 0:
                    session = None  # one conversation per script, as real chats are short
                started = time.perf_counter()
                body = client.post(
                    f"{api_url}/api/v1/chat", json={"session_id": session, "message": message}
                ).json()
                latencies.append((time.perf_counter() - started) * 1000)
                session = body["session_id"]
                degraded += bool(body["degraded"])
        assert rasa.process is not None
        report = {
            "turns": len(latencies),
            "degraded_turns": degraded,
            "p50_ms": round(statistics.median(latencies), 1),
            "p95_ms": round(percentile(latencies, 0.95), 1),
            "max_ms": round(max(latencies), 1),
            "rasa_startup_s": round(rasa.startup_s, 1),
            "rasa_rss_mb": rss_mb(rasa.process.pid),
            "api_rss_mb": rss_mb(api.pid),
        }
        print(json.dumps(report, indent=2))
    finally:
        rasa.stop()
        api.terminate()
        api.wait(timeout=30)


if __name__ == "__main__":
    main()
