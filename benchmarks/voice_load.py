"""Simultaneous phone calls against one voice worker: turn latency, real-time factor, CPU, memory.

Starts ``hotline voice serve`` (viet-asr, sample catalogue, knowledge-base answers without Rasa
so that the figures are the voice path's own) on a loopback port, then for each N places N
simulated Asterisk calls at once. Every caller streams real Vietnamese recordings at real-time
pace (``../shared/data/speech``; espeak-ng questions where it is absent), barges in on the
greeting, and asks several questions. Turn latency is the end of the caller's speech (their last
voiced frame leaving) to the first answer frame arriving.

    .venv/bin/python benchmarks/voice_load.py --calls 1 2 4 8 12 16 --turns 3
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

from voice.audio import FRAME_BYTES, resample
from voice.transports.audiosocket_client import AudioSocketCaller
from voice.vad import EndpointDetector

REPO = Path(__file__).resolve().parents[1]
SPEECH = REPO.parent / "shared" / "data" / "speech"
TARGET_P95_S = 1.0
QUESTIONS = [
    "đăng ký khai sinh cần giấy tờ gì",
    "lệ phí cấp hộ chiếu là bao nhiêu",
    "làm căn cước công dân mất bao lâu",
]


def _clips(count: int) -> list[bytes]:
    manifest = SPEECH / "manifest.tsv"
    if manifest.exists():
        with manifest.open(encoding="utf-8") as handle:
            rows = [
                r for r in csv.DictReader(handle, delimiter="\t") if float(r["duration_s"]) > 2.5
            ]
        clips = []
        for row in rows[:count]:
            with wave.open(str(SPEECH / row["path"])) as clip:
                pcm = np.frombuffer(clip.readframes(clip.getnframes()), "<i2").astype(np.int16)
                clips.append(resample(pcm, clip.getframerate(), 8000).astype("<i2").tobytes())
        return clips
    from voice.tts.engines import EspeakSynthesizer

    tts = EspeakSynthesizer("vi")
    return [tts.synthesize(q) for q in QUESTIONS]


def _last_voiced_offset_s(pcm: bytes) -> float:
    """Where the line's own energy detector hears this clip's speech end (seconds)."""
    detector = EndpointDetector()
    last = 0.0
    for index in range(0, len(pcm), FRAME_BYTES):
        now = index / FRAME_BYTES * 0.02
        detector.feed(pcm[index : index + FRAME_BYTES], now)
        if detector.in_speech:
            last = detector.last_voice_at
    return last + 0.02


async def _one_call(port: int, clips: list[bytes], turns: int, offset: int) -> list[float]:
    caller = AudioSocketCaller()
    await caller.connect("127.0.0.1", port)
    latencies: list[float] = []
    try:
        if await caller.wait_for_audio_after(0, 30.0) is None:
            return latencies
        await asyncio.sleep(0.5)  # let the greeting play a little, then talk over it
        for turn in range(turns):
            clip = clips[(offset + turn) % len(clips)]
            started = time.monotonic()
            await caller.speak(clip)
            speech_end = started + _last_voiced_offset_s(clip)
            # Whatever played before is cleared by the barge-in long before the speech ends, so
            # the first frame after that moment belongs to the answer (even when the clip's
            # trailing silence let the answer start before the clip finished).
            answered = await caller.wait_for_audio_after(speech_end, 30.0)
            if answered is None:
                break
            latencies.append(answered - speech_end)
            await asyncio.sleep(1.0)  # hear the start of the answer, then ask the next one
    finally:
        await caller.hang_up()
    return latencies


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def _level(
    port: int, pid: int, calls: int, clips: list[bytes], turns: int
) -> dict[str, object]:
    audio_s = sum(
        len(clips[(i + t) % len(clips)]) / 16000 for i in range(calls) for t in range(turns)
    )
    cpu_before, wall_before = _cpu_seconds(pid), time.monotonic()
    results = await asyncio.gather(*[_one_call(port, clips, turns, i) for i in range(calls)])
    cpu = _cpu_seconds(pid) - cpu_before
    wall = time.monotonic() - wall_before
    latencies = sorted(x for r in results for x in r)
    expected = calls * turns
    p95 = (
        latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))]
        if latencies
        else None
    )
    return {
        "calls": calls,
        "turns_answered": f"{len(latencies)}/{expected}",
        "turn_latency_p50_s": round(statistics.median(latencies), 3) if latencies else None,
        "turn_latency_p95_s": round(p95, 3) if p95 is not None else None,
        "worker_cpu_cores": round(cpu / wall, 2),
        "cpu_s_per_audio_s": round(cpu / audio_s, 3),  # per-call real-time factor (all work)
        "worker_rss_mb": round(_rss_mb(pid), 1),
        "keeps_up": bool(latencies)
        and len(latencies) == expected
        and p95 is not None
        and p95 <= TARGET_P95_S,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, nargs="+", default=[1, 2, 4, 8, 12, 16])
    parser.add_argument("--turns", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--worker-log", type=Path, default=Path(tempfile.gettempdir()) / "voice-worker.log"
    )
    args = parser.parse_args()
    clips = _clips(12)
    port = 19092
    parser_log = args.worker_log
    with tempfile.TemporaryDirectory() as data_dir, parser_log.open("w") as log:
        env = {
            **os.environ,
            "HOTLINE_DATA_DIR": data_dir,
            "HOTLINE_RASA_URL": "",
            "HOTLINE_STT_BACKEND": "viet-asr",
        }
        worker = subprocess.Popen(
            [sys.executable, "-m", "api.cli.main", "-v", "voice", "serve", "--port", str(port)],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        try:
            assert worker.stdout is not None
            ready = worker.stdout.readline()  # "AudioSocket on …" once the models are loaded
            if "AudioSocket" not in ready:
                print("the voice worker did not start", file=sys.stderr)
                return 1
            levels: list[dict[str, object]] = []
            for calls in args.calls:
                level = asyncio.run(_level(port, worker.pid, calls, clips, args.turns))
                levels.append(level)
                print(json.dumps(level, ensure_ascii=False), file=sys.stderr)
            carried = [int(str(lvl["calls"])) for lvl in levels if lvl["keeps_up"]]
            recorded = (SPEECH / "manifest.tsv").exists()
            report = {
                "recordings": "shared speech clips" if recorded else "espeak-ng",
                "cores": os.cpu_count(),
                "levels": levels,
                "largest_n_keeping_up": max(carried) if carried else 0,
            }
            print(json.dumps(report, indent=None if args.json else 2, ensure_ascii=False))
        finally:
            worker.terminate()
            worker.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
