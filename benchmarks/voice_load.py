"""Simultaneous phone calls against one voice worker: turn latency, real-time factor, CPU, memory.

Starts ``hotline voice serve`` (viet-asr, sample catalogue) on a loopback port — answering from
the knowledge base, or with ``--rasa`` through Rasa and the API's action webhook as in
production — then for each N places N simulated Asterisk calls at once. Every caller streams real Vietnamese recordings at real-time
pace (``../shared/data/speech``; espeak-ng questions where it is absent), barges in on the
greeting, and asks several questions. Turn latency is the end of the caller's speech (their last
voiced frame leaving) to the first answer frame arriving.

    .venv/bin/python benchmarks/voice_load.py --calls 1 2 4 8 12 16 --turns 3
    .venv/bin/python benchmarks/voice_load.py --calls 4 8 --turns 2 --rasa
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
from contextlib import ExitStack
from pathlib import Path

import numpy as np

from api.cli.harness import cpu_seconds, rss_mb, served_dialogue
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


async def _level(
    port: int, pid: int, dialogue: list[int], calls: int, clips: list[bytes], turns: int
) -> dict[str, object]:
    """``dialogue``: the API and Rasa processes answering the worker's turns (none without Rasa)."""
    audio_s = sum(
        len(clips[(i + t) % len(clips)]) / 16000 for i in range(calls) for t in range(turns)
    )
    cpu_before, wall_before = cpu_seconds(pid), time.monotonic()
    dialogue_before = sum(map(cpu_seconds, dialogue))
    results = await asyncio.gather(*[_one_call(port, clips, turns, i) for i in range(calls)])
    cpu = cpu_seconds(pid) - cpu_before
    dialogue_cpu = sum(map(cpu_seconds, dialogue)) - dialogue_before
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
        "worker_rss_mb": rss_mb(pid),
        **(
            {"dialogue_cpu_ms_per_turn": round(1000 * dialogue_cpu / max(len(latencies), 1), 1)}
            if dialogue
            else {}
        ),
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
    parser.add_argument("--rasa", action="store_true", help="answer through Rasa and the API")
    args = parser.parse_args()
    clips = _clips(12)
    port = 19092
    with ExitStack() as stack:
        data_dir = stack.enter_context(tempfile.TemporaryDirectory())
        env = {
            **os.environ,
            "HOTLINE_DATA_DIR": data_dir,
            "HOTLINE_RASA_URL": "",
            "HOTLINE_STT_BACKEND": "viet-asr",
        }
        dialogue = _start_dialogue(stack, env) if args.rasa else []
        log = stack.enter_context(args.worker_log.open("w"))
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
                level = asyncio.run(_level(port, worker.pid, dialogue, calls, clips, args.turns))
                levels.append(level)
                print(json.dumps(level, ensure_ascii=False), file=sys.stderr)
            carried = [int(str(lvl["calls"])) for lvl in levels if lvl["keeps_up"]]
            recorded = (SPEECH / "manifest.tsv").exists()
            report = {
                "recordings": "shared speech clips" if recorded else "espeak-ng",
                "cores": os.cpu_count(),
                "dialogue": "rasa" if args.rasa else "knowledge base",
                "levels": levels,
                "largest_n_keeping_up": max(carried) if carried else 0,
            }
            print(json.dumps(report, indent=None if args.json else 2, ensure_ascii=False))
        finally:
            worker.terminate()
            worker.wait(10)
    return 0


def _start_dialogue(stack: ExitStack, env: dict[str, str]) -> list[int]:
    """The API (action webhook) and one Rasa process over the worker's data dir; ``env`` then
    points the worker at Rasa. Returns their pids."""
    dialogue = stack.enter_context(served_dialogue(env, REPO / "var" / "rasa-test"))
    env["HOTLINE_RASA_URL"] = dialogue.rasa_url
    return dialogue.pids


if __name__ == "__main__":
    sys.exit(main())
