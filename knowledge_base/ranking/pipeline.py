"""Train the ranker, cross-validate it, and decide whether a new model may replace the old one."""

from __future__ import annotations

import hashlib
import logging
import random
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from knowledge_base.db import session_scope
from knowledge_base.evaluation import ranking_hits
from knowledge_base.models import CurationStatus, FaqEntry, Procedure, WordingLink
from knowledge_base.ranking.model import Ranker, RankerInfo
from knowledge_base.ranking.training import (
    Example,
    QueryRows,
    fit_calibration,
    fit_ranker,
    frame_examples,
    query_rows,
    ranked_codes,
    synthetic_examples,
)
from knowledge_base.retrieval.searcher import HybridSearcher
from knowledge_base.service import KnowledgeBase
from knowledge_base.text.normalize import fold_accents

logger = logging.getLogger(__name__)
SEED = 7
CALIBRATION_SHARE = 0.2
MIN_CURATED_EXAMPLES = 200


def catalogue_names(session: Session) -> list[tuple[str, str]]:
    rows = session.execute(select(Procedure.code, Procedure.name).order_by(Procedure.code))
    return [(code, name) for code, name in rows]


def staff_examples(session: Session) -> list[Example]:
    """Every wording staff tied to a procedure: the questions of live FAQ entries, and the
    inbox groups and handoff conversations staff linked to one (each pair once)."""
    examples = _faq_examples(session)
    seen = {(e.question, e.codes) for e in examples}
    for example in _link_examples(session):
        if (example.question, example.codes) not in seen:
            seen.add((example.question, example.codes))
            examples.append(example)
    return examples


def _faq_examples(session: Session) -> list[Example]:
    entries = session.scalars(
        select(FaqEntry).where(FaqEntry.status != CurationStatus.ARCHIVED)
    ).all()
    return [
        Example(question, tuple(entry.procedure_codes), "staff")
        for entry in entries
        if entry.procedure_codes
        for question in entry.questions
        if question.strip()
    ]


def _link_examples(session: Session) -> list[Example]:
    rows = session.execute(
        select(WordingLink.question, WordingLink.procedure_code).order_by(WordingLink.id)
    )
    return [Example(question, (code,), "staff") for question, code in rows if question.strip()]


def collect(
    searcher: HybridSearcher, examples: Sequence[Example], strip_accents: bool = False
) -> list[QueryRows]:
    return [query_rows(searcher, e, strip_accents) for e in examples]


def typed_without_accents(example: Example) -> bool:
    """A fixed third of the questions people asked, chosen by their text (the same in every
    run and every fold), is learnt as if typed without accents."""
    if example.source == "synthetic" or fold_accents(example.question) == example.question:
        return False
    return int(hashlib.sha256(example.question.encode()).hexdigest(), 16) % 3 == 0


def training_rows(
    searcher: HybridSearcher, examples: Sequence[Example], written: Sequence[QueryRows]
) -> list[QueryRows]:
    """``written`` (the rows of ``examples`` as asked) with that third replaced by the same
    questions without accents: a third of citizens type that way, and a model that never saw
    it leans on accented words it then does not get. Measured: README "Training data"."""
    return [
        query_rows(searcher, example, strip_accents=True) if typed_without_accents(example) else row
        for example, row in zip(examples, written, strict=True)
    ]


def _metrics(
    model: Ranker, rows: Sequence[QueryRows], expected: Sequence[set[str]]
) -> dict[str, float]:
    hits = {1: 0, 5: 0, 10: 0}
    reciprocal = candidates = 0.0
    for item, codes in zip(rows, expected, strict=True):
        candidates += item.candidate_hit
        ranked = ranked_codes(model.scores(item.features, item.codes), item.codes, 10)
        found_at, rr = ranking_hits(ranked, codes)
        for k in hits:
            hits[k] += found_at[k]
        reciprocal += rr
    n = max(1, len(rows))
    return {
        "recall@1": hits[1] / n,
        "recall@5": hits[5] / n,
        "recall@10": hits[10] / n,
        "mrr@10": reciprocal / n,
        "candidate_recall@200": candidates / n,
    }


def cross_validate(
    eval_rows: Sequence[QueryRows],
    eval_examples: Sequence[Example],
    base_rows: Sequence[QueryRows],
    folds: int,
    seed: int = SEED,
    train_rows: Sequence[QueryRows] | None = None,
) -> dict[str, Any]:
    """Train on the base rows plus all folds but one, score that one, in turn; ``train_rows``
    (aligned with ``eval_rows``) are what the training folds learn from, if not the same."""
    learnt = train_rows if train_rows is not None else eval_rows
    order = list(range(len(eval_rows)))
    random.Random(seed).shuffle(order)
    fold_of = {index: position % folds for position, index in enumerate(order)}
    per_fold = []
    for fold in range(folds):
        train = [r for i, r in enumerate(learnt) if fold_of[i] != fold]
        test = [i for i in range(len(eval_rows)) if fold_of[i] == fold]
        model = fit_ranker([*base_rows, *train], seed)
        scores = _metrics(
            model, [eval_rows[i] for i in test], [set(eval_examples[i].codes) for i in test]
        )
        per_fold.append({"questions": len(test), **{k: round(v, 4) for k, v in scores.items()}})
        logger.info("ranker.cv_fold", extra={"fold": fold, **per_fold[-1]})
    keys = ["recall@1", "recall@5", "recall@10", "mrr@10", "candidate_recall@200"]
    report: dict[str, Any] = {"scored_questions": len(eval_rows), "cross_validated_folds": folds}
    for key in keys:
        values = [f[key] for f in per_fold]
        report[key] = round(statistics.fmean(values), 4)
        report[f"{key}_spread"] = round(statistics.pstdev(values), 4)
    report["folds"] = per_fold
    return report


def train(
    rows: Sequence[QueryRows], sources: dict[str, int], cv: dict[str, Any], seed: int = SEED
) -> Ranker:
    """Calibrate on a held-out fifth of the questions people asked (generated ones are easier
    and would make it overconfident), then fit the served model on everything."""
    curated = [i for i, r in enumerate(rows) if r.curated]
    order = curated if len(curated) >= 50 else list(range(len(rows)))
    random.Random(seed).shuffle(order)
    held = set(order[: int(len(order) * CALIBRATION_SHARE)])
    model = fit_ranker([r for i, r in enumerate(rows) if i not in held], seed)
    tops, margins, correct = [], [], []
    for i in sorted(held):
        item = rows[i]
        if len(item.features) < 2:
            continue
        scores = model.scores(item.features, item.codes)
        top, second = np.argsort(-scores, kind="stable")[:2]
        tops.append(scores[top])
        margins.append(scores[top] - scores[second])
        correct.append(float(item.labels[top]))
    ranker = fit_ranker(rows, seed)
    ranker.info.sources = sources
    ranker.info.cv = cv
    ranker.info.calibration = fit_calibration(np.array(tops), np.array(margins), np.array(correct))
    return ranker


def examples_for_training(
    session: Session, extra: Sequence[Example], seed: int = SEED
) -> list[Example]:
    """Questions people asked (staff examples and ``extra``); questions generated from the
    catalogue only while those are too few. Measured on the shared citizen questions and the
    everyday development set, generated questions lower Recall@1 by 4–8 points once a few
    hundred real ones exist: they teach the ranker to match names word for word."""
    curated = [*staff_examples(session), *extra]
    if len(curated) >= MIN_CURATED_EXAMPLES:
        return curated
    names = catalogue_names(session)
    return [*synthetic_examples(names, seed), *frame_examples(names, seed), *curated]


def may_replace(current: Ranker | None, candidate: Ranker) -> tuple[bool, str]:
    """A model with a lower cross-validated Recall@1 than the one in service is refused, and so
    is one without figures when the one in service has them (too few staff examples to
    cross-validate must not replace a validated model with an unvalidated one)."""
    new = candidate.info.cv.get("recall@1")
    old = current.info.cv.get("recall@1") if current is not None else None
    if old is None:
        return True, "Mô hình đang dùng chưa có số liệu kiểm định chéo; mô hình mới được dùng."
    if new is None:
        return False, (
            "Mô hình mới chưa được kiểm định chéo (quá ít câu hỏi mẫu do nhân viên soạn), "
            f"trong khi mô hình đang dùng có Recall@1 {old:.3f}; giữ mô hình cũ."
        )
    if new < old:
        return False, f"Mô hình mới kém hơn (Recall@1 {new:.3f} < {old:.3f}); giữ mô hình cũ."
    return True, f"Mô hình mới được dùng (Recall@1 {new:.3f}, trước đó {old:.3f})."


@dataclass(frozen=True)
class TrainingReport:
    accepted: bool
    message: str
    info: RankerInfo


def retrain(
    kb: KnowledgeBase,
    extra: Sequence[Example],
    folds: int = 5,
    force: bool = False,
    output: Path | None = None,
    other_catalogues: Sequence[KnowledgeBase] = (),
) -> TrainingReport:
    """Train on staff examples and ``extra`` (and generated questions while those are few);
    report the cross-validated figures over the curated examples; swap the new model in unless
    it is worse than the one in service.

    ``other_catalogues`` add training rows for the same questions over another catalogue (the
    bundled sample a fresh install serves): scores mean different things over 40 procedures
    than over 3,000, and the model should have seen both. They are never scored."""
    unranked = HybridSearcher(kb.searcher.index, kb.embedder)
    with session_scope(kb.engine) as session:
        examples = examples_for_training(session, extra)
    rows = collect(unranked, examples)
    learnt = training_rows(unranked, examples, rows)
    curated = [i for i, e in enumerate(examples) if e.source != "synthetic"]
    synthetic = [r for r, e in zip(rows, examples, strict=True) if e.source == "synthetic"]
    elsewhere = []
    for other in other_catalogues:
        known = other.known_codes()
        there = [e for e in examples if e.source != "synthetic" and known.intersection(e.codes)]
        searcher = HybridSearcher(other.searcher.index, other.embedder)
        elsewhere += training_rows(searcher, there, collect(searcher, there))
    cv: dict[str, Any] = {}
    if len(curated) >= folds * 2:
        # without the other catalogues' rows: they repeat the held-out questions
        cv = cross_validate(
            [rows[i] for i in curated],
            [examples[i] for i in curated],
            synthetic,
            folds,
            train_rows=[learnt[i] for i in curated],
        )
    sources = dict(Counter(e.source for e in examples))
    ranker = train([*learnt, *elsewhere], sources, cv)
    accepted, message = may_replace(kb.ranker, ranker)
    if force and not accepted:
        message += " Đã buộc thay: mô hình mới vẫn được dùng."
    if accepted or force:
        if output is None:
            kb.publish_ranker(ranker)
        else:
            ranker.save(output)
    logger.info("ranker.trained", extra={"accepted": accepted, "forced": force, **sources})
    return TrainingReport(accepted or force, message, ranker.info)
