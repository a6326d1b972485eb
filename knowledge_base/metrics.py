"""The Prometheus metrics every part of the hotline reports (API, dialogue, phone line).

One registry per process; with several uvicorn workers set ``PROMETHEUS_MULTIPROC_DIR`` (``hotline
serve --workers N`` does) so that a scrape of any worker sums them all.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUESTS = Counter(
    "hotline_http_requests_total", "HTTP requests by route template", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "hotline_http_request_duration_seconds",
    "HTTP request latency by route template",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
)
ANSWERS = Counter(
    "hotline_answers_total",
    "Citizen questions by channel and outcome (answered, refused, unsure, handoff)",
    ["channel", "outcome"],
)
DEGRADED_TURNS = Counter(
    "hotline_degraded_turns_total", "Chat turns answered without the dialogue engine", ["channel"]
)
RATE_LIMITED = Counter("hotline_rate_limited_total", "Requests refused by a limit", ["rule"])
INDEX_BUILT = Gauge(
    "hotline_index_built_timestamp_seconds",
    "Build time of the search index this process serves (its version)",
    multiprocess_mode="max",
)
INDEX_DOCUMENTS = Gauge(
    "hotline_index_documents", "Documents in the served index", multiprocess_mode="max"
)
RANKER_VERSION = Gauge(
    "hotline_ranker_version",
    "Version of the site ranker this process serves (0: the bundled model)",
    multiprocess_mode="max",
)
LIVE_CALLS = Gauge(
    "hotline_voice_live_calls", "Phone calls in progress", multiprocess_mode="livesum"
)
CALLS_REJECTED = Counter(
    "hotline_voice_calls_rejected_total", "Calls refused (busy, bad token)", ["reason"]
)
STT_SECONDS = Histogram(
    "hotline_voice_stt_seconds", "Speech recognition time per utterance", buckets=LATENCY_BUCKETS
)
TTS_SECONDS = Histogram(
    "hotline_voice_tts_seconds", "Speech synthesis time per reply", buckets=LATENCY_BUCKETS
)
VOICE_TURN_SECONDS = Histogram(
    "hotline_voice_turn_seconds",
    "From the end of the caller's utterance to the first audio of the reply",
    buckets=LATENCY_BUCKETS,
)
VOICE_QUEUE_DEPTH = Gauge(
    "hotline_voice_queue_depth",
    "Audio frames waiting per call, summed",
    multiprocess_mode="livesum",
)


def count_answer(channel: str, answered: bool | None, refusal_kind: str | None = None) -> None:
    """One citizen question's outcome: answered, a refusal of some kind, or no answer yet."""
    if answered:
        outcome = "answered"
    elif refusal_kind:
        outcome = refusal_kind  # out_of_scope, unsure, …: a small fixed set
    else:
        outcome = "refused" if answered is False else "other"
    ANSWERS.labels(channel, outcome).inc()


def exposition() -> tuple[bytes, str]:
    """The text a Prometheus scrape receives, and its content type."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
