"""Retrieval evaluation: Recall@k, MRR@10, refusal accuracy, latency."""

from __future__ import annotations

import csv
import json
import re
import statistics
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from knowledge_base.service import KnowledgeBase
from knowledge_base.text.normalize import fold_accents, normalize_text

_CODE_IN_LINK_RE = re.compile(r"ma_thu_tuc=([\w.]+)")


@dataclass(frozen=True)
class EvalQuestion:
    question: str
    codes: tuple[str, ...]  # empty: the question must be refused


def read_dvc_csv(path: Path) -> list[EvalQuestion]:
    with path.open(encoding="utf-8", newline="") as handle:
        return [
            EvalQuestion(row["question"], tuple(_CODE_IN_LINK_RE.findall(row["related_links"])))
            for row in csv.DictReader(handle)
        ]


def read_jsonl(path: Path) -> list[EvalQuestion]:
    items = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            items.append(EvalQuestion(row["q"], tuple(row.get("codes") or ())))
    return items


def read_faq_titles(path: Path, name_to_code: dict[str, str]) -> list[EvalQuestion]:
    """The portal FAQ set: map each expected procedure title to a catalogue code by name."""
    items = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        title = normalize_text(str(row.get("expected_procedure_title") or ""))
        code = name_to_code.get(title)
        if code:
            items.append(EvalQuestion(row["question"], (code,)))
    return items


QUESTION_FORMATS = ("dvc-csv", "jsonl", "faq-titles")


def read_questions(path: Path, fmt: str, name_to_code: dict[str, str]) -> list[EvalQuestion]:
    if fmt == "dvc-csv":
        return read_dvc_csv(path)
    if fmt == "jsonl":
        return read_jsonl(path)
    if fmt == "faq-titles":
        return read_faq_titles(path, name_to_code)
    raise ValueError(f"unknown question format {fmt!r}: use one of {', '.join(QUESTION_FORMATS)}")


def ranking_hits(ranked: list[str], expected: set[str]) -> tuple[dict[int, bool], float]:
    """Whether an expected code is in the top 1, 5 and 10, and the reciprocal rank (MRR@10)."""
    found = {k: any(c in expected for c in ranked[:k]) for k in (1, 5, 10)}
    return found, next((1 / (i + 1) for i, c in enumerate(ranked[:10]) if c in expected), 0.0)


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def evaluate(
    kb: KnowledgeBase,
    questions: Iterable[EvalQuestion],
    strip_accents: bool = False,
    misses: int = 0,
) -> dict[str, Any]:
    """The figures over ``questions``; with ``misses`` > 0 also that many questions whose first
    answer was wrong (question, expected codes, the first three found) to read by hand."""
    known = kb.known_codes()
    missed: list[dict[str, Any]] = []
    hits_at = {1: 0, 5: 0, 10: 0}
    reciprocal = 0.0
    scored = skipped = refusal_total = refusal_correct = answered_in_scope = 0
    latencies: list[float] = []
    for item in questions:
        text = fold_accents(normalize_text(item.question)) if strip_accents else item.question
        expected = {c for c in item.codes if c in known}
        if item.codes and not expected:
            skipped += 1
            continue
        started = time.perf_counter()
        result = kb.ask(text, top_k=10)
        latencies.append((time.perf_counter() - started) * 1000)
        if not item.codes:
            refusal_total += 1
            refusal_correct += not result.answerable
            continue
        scored += 1
        answered_in_scope += result.answerable
        ranked = [p.code for p in result.procedures]
        for faq in result.faq:
            ranked.extend(faq.procedure_codes)
        found_at, rr = ranking_hits(list(dict.fromkeys(ranked))[:10], expected)
        if not found_at[1] and len(missed) < misses:
            first = [f"{p.code} {p.name}" for p in result.procedures[:3]]
            missed.append({"q": item.question, "expected": sorted(expected), "found": first})
        for k in hits_at:
            hits_at[k] += found_at[k]
        reciprocal += rr
    return {
        "scored_questions": scored,
        "skipped_unknown_codes": skipped,
        "recall@1": round(hits_at[1] / scored, 4) if scored else None,
        "recall@5": round(hits_at[5] / scored, 4) if scored else None,
        "recall@10": round(hits_at[10] / scored, 4) if scored else None,
        "mrr@10": round(reciprocal / scored, 4) if scored else None,
        "answered_in_scope": round(answered_in_scope / scored, 4) if scored else None,
        "refusal_questions": refusal_total,
        "refusal_accuracy": round(refusal_correct / refusal_total, 4) if refusal_total else None,
        "latency_ms_median": round(statistics.median(latencies), 2) if latencies else None,
        "latency_ms_p95": round(_percentile(latencies, 0.95), 2) if latencies else None,
        "strip_accents": strip_accents,
        **({"misses": missed} if misses else {}),
    }
