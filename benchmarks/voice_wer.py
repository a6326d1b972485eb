"""Vietnamese speech recognition on real recordings: word error rate and real-time factor.

Reads ``../shared/data/speech/manifest.tsv`` (300 clips; skipped with a message when absent),
turns every clip into 8 kHz phone audio as the line would hear it, and streams it through the
recogniser 100 ms at a time:

    .venv/bin/python benchmarks/voice_wer.py                 # viet-asr, every clip
    .venv/bin/python benchmarks/voice_wer.py --rate 16000    # the same at the clips' own rate
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
import wave
from collections import defaultdict
from pathlib import Path

import numpy as np

from voice.audio import resample
from voice.evaluation import word_errors

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "speech"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", type=Path, default=SHARED / "manifest.tsv")
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--rate", type=int, default=8000, help="audio rate fed to the engine")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not args.manifest.exists():
        print(f"skipped: no speech data at {args.manifest}", file=sys.stderr)
        return 0
    import vietasr

    pipeline = vietasr.Pipeline.new().add("vietasr").build()
    with args.manifest.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    if args.limit:
        rows = rows[: args.limit]
    by_source: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    errors = words = 0
    audio_s = compute_s = 0.0
    chunk = args.rate // 10
    for row in rows:
        with wave.open(str(args.manifest.parent / row["path"])) as clip:
            pcm = np.frombuffer(clip.readframes(clip.getnframes()), "<i2").astype(np.int16)
            pcm = np.ascontiguousarray(resample(pcm, clip.getframerate(), args.rate))
        started = time.perf_counter()
        with pipeline.stream(sample_rate=float(args.rate)) as session:
            for start in range(0, pcm.size, chunk):
                session.accept(np.ascontiguousarray(pcm[start : start + chunk]))
            hypothesis = session.final().text
        compute_s += time.perf_counter() - started
        audio_s += pcm.size / args.rate
        wrong, total = word_errors(row["transcript"], hypothesis)
        errors, words = errors + wrong, words + total
        source = row["path"].split("/", 1)[0]
        by_source[source][0] += wrong
        by_source[source][1] += total
    pipeline.close()
    report = {
        "engine": "viet-asr 0.1.0.dev11",
        "clips": len(rows),
        "audio_minutes": round(audio_s / 60, 2),
        "rate_hz": args.rate,
        "wer": round(errors / max(words, 1), 4),
        "wer_by_source": {k: round(e / max(n, 1), 4) for k, (e, n) in sorted(by_source.items())},
        "real_time_factor": round(compute_s / max(audio_s, 1e-9), 4),
    }
    print(json.dumps(report, indent=None if args.json else 2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
