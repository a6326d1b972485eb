"""How well callers can understand the phone voice: word error rate of the project's own
recogniser listening to it.

Every sentence of ``benchmarks/data/voice_answers.tsv`` (32 answers: fees, times, procedure
names, codes, dates, phone numbers, abbreviations) is normalised for speech, synthesised with
each voice configuration, sent down the phone path (8 kHz, G.711 μ-law both ways) and recognised
by the engine ``build_services`` would use here (viet-asr unless Vosk's model is installed).
The reference is the spoken text itself (``speech_text``), so an error is a word the listener
could not recover from the audio. The sentences are split in two halves: ``tune`` chose the
default, ``held`` did not take part and is reported as held-out.

    .venv/bin/python benchmarks/voice_intelligibility.py                  # baseline vs default
    .venv/bin/python benchmarks/voice_intelligibility.py --grid search    # the tuning grid
    .venv/bin/python benchmarks/voice_intelligibility.py \\
        --config voice=vi-vn-x-south,rate=130,pitch=40,gap=2,text=plain --split tune

A configuration is ``key=value`` pairs: voice (vi, vi-vn-x-central, vi-vn-x-south), variant
(an espeak-ng variant such as m3; empty: the voice's own), rate (words per minute), pitch
(0-99), gap (extra pause between words, 10 ms units) and text (a ``SPEECH_STYLES`` name: how
codes and phone numbers are grouped). Synthesis and recognition are cached by content under
``var/cache/voice_intelligibility``, so a rerun only computes what changed.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sys
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from knowledge_base.settings import get_settings
from voice.audio import PHONE_RATE, Pcm, pcm_of, ulaw_decode, ulaw_encode
from voice.evaluation import word_errors
from voice.stt import SpeechRecognizer
from voice.tts.engines import EspeakSynthesizer
from voice.tts.speech_text import SPEECH_STYLES, speech_text

SENTENCES = Path(__file__).resolve().parent / "data" / "voice_answers.tsv"
CACHE = Path("var/cache/voice_intelligibility")
CHUNK = PHONE_RATE // 10  # 100 ms at a time, as the line feeds the recogniser
PADDING = np.zeros(PHONE_RATE // 2, dtype=np.int16)  # the half second of line around a reply


@dataclass(frozen=True)
class VoiceConfig:
    voice: str = "vi"
    variant: str = ""
    rate: int = 150
    pitch: int = 50
    gap: int = 0
    text: str = "plain"

    @classmethod
    def parse(cls, spec: str) -> VoiceConfig:
        known = {f.name: f.type for f in fields(cls)}
        values: dict[str, Any] = {}
        for pair in filter(None, (p.strip() for p in spec.split(","))):
            key, _, value = pair.partition("=")
            if key not in known:
                raise ValueError(f"unknown key {key!r} (one of {', '.join(known)})")
            values[key] = int(value) if key in {"rate", "pitch", "gap"} else value
        config = cls(**values)
        if config.text not in SPEECH_STYLES:
            raise ValueError(f"text must be one of {', '.join(SPEECH_STYLES)}")
        return config

    @property
    def label(self) -> str:
        variant = f"+{self.variant}" if self.variant else ""
        return (f"{self.voice}{variant} s{self.rate} p{self.pitch} g{self.gap} {self.text}").strip()

    def synthesizer(self) -> EspeakSynthesizer:
        return EspeakSynthesizer(self.voice, self.rate, self.pitch, self.gap, self.variant)


# Before this benchmark: espeak-ng's "vi" at 150 words a minute, everything else its default.
BASELINE = VoiceConfig()


def configured_default() -> VoiceConfig:
    """The voice the line uses now (settings and ``speech_text``'s default style)."""
    settings = get_settings()
    return VoiceConfig(
        voice=settings.tts_voice,
        variant=settings.tts_variant,
        rate=settings.tts_rate,
        pitch=settings.tts_pitch,
        gap=settings.tts_word_gap,
        text="default",
    )


def _search_grid() -> list[VoiceConfig]:
    """Twelve configurations: the voices, then rate, pitch, word gap and text around them."""
    grid = [
        BASELINE,
        replace(BASELINE, voice="vi-vn-x-central"),
        replace(BASELINE, voice="vi-vn-x-south"),
        replace(BASELINE, rate=120),
        replace(BASELINE, rate=135),
        replace(BASELINE, rate=175),
        replace(BASELINE, pitch=35),
        replace(BASELINE, pitch=65),
        replace(BASELINE, gap=2),
        replace(BASELINE, gap=4),
        replace(BASELINE, variant="m3"),
        replace(BASELINE, text="grouped"),
    ]
    return grid


GRIDS = {
    "compare": lambda: [BASELINE, configured_default()],
    "search": _search_grid,
}


@dataclass(frozen=True)
class Sentence:
    split: str
    kind: str
    text: str


def load_sentences(path: Path = SENTENCES) -> list[Sentence]:
    with path.open(encoding="utf-8") as handle:
        return [
            Sentence(r["split"], r["kind"], r["text"])
            for r in csv.DictReader(handle, delimiter="\t")
        ]


class Cache:
    """Synthesised audio and transcripts, addressed by what produced them."""

    def __init__(self, root: Path | None) -> None:
        self.root = root
        if root is not None:
            root.mkdir(parents=True, exist_ok=True)

    def _path(self, kind: str, *key: str) -> Path | None:
        if self.root is None:
            return None
        digest = hashlib.sha256("\x1f".join(key).encode()).hexdigest()[:32]
        return self.root / f"{kind}-{digest}"

    def audio(self, config: VoiceConfig, spoken: str) -> bytes:
        synthesizer = config.synthesizer()
        path = self._path("pcm", *synthesizer.arguments(), spoken)
        if path is not None and path.exists():
            return path.read_bytes()
        pcm = synthesizer.synthesize(spoken)
        if path is not None:
            path.write_bytes(pcm)
        return pcm

    def transcript(self, recognizer: SpeechRecognizer, audio: Pcm) -> str:
        data = audio.astype("<i2").tobytes()
        path = self._path("txt", recognizer.name, hashlib.sha256(data).hexdigest())
        if path is not None and path.exists():
            return path.read_text(encoding="utf-8")
        text = recognise(recognizer, audio)
        if path is not None:
            path.write_text(text, encoding="utf-8")
        return text


def phone_path(pcm: bytes) -> Pcm:
    """8 kHz audio as it reaches the caller: G.711 μ-law encoded and decoded."""
    return ulaw_decode(ulaw_encode(pcm_of(pcm)))


def recognise(recognizer: SpeechRecognizer, audio: Pcm) -> str:
    padded = np.concatenate([PADDING, audio, PADDING]).astype("<i2")
    stream = recognizer.stream()
    try:
        for start in range(0, padded.size, CHUNK):
            stream.accept(padded[start : start + CHUNK].tobytes())
        return stream.final()
    finally:
        stream.close()


def measure(
    configs: list[VoiceConfig],
    sentences: list[Sentence],
    recognizer: SpeechRecognizer,
    cache: Cache,
    show: bool = False,
) -> list[dict[str, Any]]:
    rows = []
    for config in configs:
        counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        started, audio_s = time.perf_counter(), 0.0
        for sentence in sentences:
            spoken = speech_text(sentence.text, SPEECH_STYLES[config.text])
            audio = phone_path(cache.audio(config, spoken))
            audio_s += audio.size / PHONE_RATE
            heard = cache.transcript(recognizer, audio)
            # numerals the recogniser writes as digits count as the words the voice said
            wrong, total = word_errors(spoken, speech_text(heard))
            for key in (sentence.split, sentence.kind, "all"):
                counts[key][0] += wrong
                counts[key][1] += total
            if show:
                print(f"  {wrong:2d}/{total:2d} {spoken}\n        → {heard}", file=sys.stderr)
        wer = {k: round(e / max(n, 1), 4) for k, (e, n) in sorted(counts.items())}
        rows.append(
            {"config": config.label, **asdict(config), "wer": wer, "audio_s": round(audio_s, 1)}
        )
        print(
            f"{config.label}: {wer['all']:.3f} ({time.perf_counter() - started:.0f} s)",
            file=sys.stderr,
        )
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    columns = ["tune", "held", "all"]
    width = max(len(r["config"]) for r in rows)
    header = "  ".join(f"{c:>5}" for c in columns)
    lines = [f"{'configuration':<{width}}  {header}  audio_s"]
    for row in rows:
        cells = "  ".join(
            f"{row['wer'][c]:5.3f}" if c in row["wer"] else f"{'-':>5}" for c in columns
        )
        lines.append(f"{row['config']:<{width}}  {cells}  {row['audio_s']:7.1f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", choices=sorted(GRIDS), default="compare")
    parser.add_argument(
        "--config", action="append", default=[], help="key=value,… (repeatable; replaces --grid)"
    )
    parser.add_argument("--split", choices=["tune", "held", "all"], default="all")
    parser.add_argument("--sentences", type=Path, default=SENTENCES)
    parser.add_argument("--limit", type=int, default=0, help="only the first N sentences")
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument("--no-cache", action="store_true")
    parser.add_argument("--show", action="store_true", help="print every transcript")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    from voice.runtime import build_recognizer

    configs = [VoiceConfig.parse(s) for s in args.config] or GRIDS[args.grid]()
    sentences = load_sentences(args.sentences)
    if args.split != "all":
        sentences = [s for s in sentences if s.split == args.split]
    if args.limit:
        sentences = sentences[: args.limit]
    recognizer = build_recognizer(get_settings())
    recognizer.warm_up()
    rows = measure(
        configs, sentences, recognizer, Cache(None if args.no_cache else args.cache), args.show
    )
    if args.json:
        report = {"recognizer": recognizer.name, "sentences": len(sentences), "results": rows}
        print(json.dumps(report, ensure_ascii=False))
    else:
        print(f"recognizer {recognizer.name}, {len(sentences)} sentences; word error rate")
        print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
