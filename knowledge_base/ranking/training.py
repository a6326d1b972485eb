"""Training data and training for the ranker.

Examples come from three honest sources: questions generated from the catalogue's own names
(rewritten through the lexicon), hand-written and curated question files, and staff acts that
tie a wording to a procedure (FAQ entries). Candidates and features do not depend on the ranker,
so they are computed once and reused by every fold of a cross-validation.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray

from knowledge_base.ranking.features import (
    FEATURE_NAMES,
    MONOTONE,
    POPULARITY,
    TextProfile,
    generic_siblings,
)
from knowledge_base.ranking.model import Ranker, RankerInfo, popularity_column
from knowledge_base.retrieval.searcher import HybridSearcher, analyze
from knowledge_base.text.normalize import fold_accents, normalize_text
from knowledge_base.understanding.frame import BASE_ACTIONS, parse_name
from knowledge_base.understanding.lexicon import Lexicon, active_lexicon

TRAIN_NEGATIVES_TOP = 100  # the hardest negatives: the best of the retrievers' candidates
TRAIN_NEGATIVES_RANDOM = 40  # and some of the rest, so the tail is seen too
ASPECT_TAILS = (
    "",
    "",
    "cần giấy tờ gì",
    "cần những gì",
    "lệ phí bao nhiêu",
    "mất bao lâu",
    "nộp ở đâu",
    "làm ở đâu",
    "nộp online được không",
    "thủ tục thế nào",
)
OPENINGS = ("", "", "", "cho tôi hỏi", "alo cho em hỏi", "dạ cho hỏi", "tôi muốn", "làm sao để")
_LEADING_THU_TUC = re.compile(r"^thủ tục\s+")


@dataclass(frozen=True)
class Example:
    question: str
    codes: tuple[str, ...]
    source: str


def synthetic_examples(
    names: Sequence[tuple[str, str]], seed: int, per_name: int = 1, lexicon: Lexicon | None = None
) -> list[Example]:
    """Citizen-like questions from procedure names: the object and the action said the way
    people say them, a question tail, an opening, a third without accents."""
    lexicon = lexicon or active_lexicon()
    spoken: dict[tuple[str, str], tuple[str, ...]] = {
        (e.kind, e.term): e.phrases for e in lexicon.entries if e.kind in ("object", "action")
    }
    rng = random.Random(seed)
    examples = []
    for code, name in names:
        frame = parse_name(name, lexicon)
        for _ in range(per_name):
            text = _LEADING_THU_TUC.sub("", normalize_text(name))
            for kind, terms in (("object", frame.objects), ("action", frame.actions)):
                for term in sorted(terms):
                    phrases = spoken.get((kind, term), ())
                    if phrases and term in text and rng.random() < 0.7:
                        text = text.replace(term, rng.choice(phrases), 1)
            words = text.split()
            if len(words) > 14 and rng.random() < 0.5:
                text = " ".join(words[: rng.randint(8, 14)])
            text = " ".join(p for p in (rng.choice(OPENINGS), text, rng.choice(ASPECT_TAILS)) if p)
            if rng.random() < 1 / 3:
                text = fold_accents(text)
            examples.append(Example(text, (code,), "synthetic"))
    return examples


RANKER_PARAMS: dict[str, Any] = {
    "objective": "lambdarank",
    "metric": "ndcg",
    "ndcg_eval_at": [1, 5],
    "learning_rate": 0.05,
    "num_leaves": 31,
    "min_data_in_leaf": 20,
    "feature_fraction": 0.9,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambdarank_truncation_level": 20,
    "monotone_constraints": [MONOTONE.get(name, 0) for name in FEATURE_NAMES],
    "monotone_constraints_method": "advanced",
    "deterministic": True,
    "force_row_wise": True,
    "num_threads": 2,
    "verbose": -1,
}
LEVELS = frozenset(["province", "district", "commune", "central"])  # citizens rarely say these


def frame_examples(
    names: Sequence[tuple[str, str]], seed: int, per_frame: int = 2, lexicon: Lexicon | None = None
) -> list[Example]:
    """Everyday questions built from what a name is about, not from its words: an action cue,
    an object alias and any qualifier, said the way people say them ("bị mất bằng lái làm lại ở
    đâu"). Every procedure with that reading and no more generic sibling of the same reading is
    a right answer, so the ranker learns to prefer the plain procedure to a specialised one."""
    lexicon = lexicon or active_lexicon()
    spoken: dict[tuple[str, str], tuple[str, ...]] = {
        (e.kind, e.term): e.phrases for e in lexicon.entries if e.kind != "phrase"
    }
    texts = [TextProfile.of(name) for _, name in names]
    siblings = generic_siblings(texts, [True] * len(names))
    groups: dict[tuple[frozenset[str], frozenset[str], frozenset[str]], list[int]] = {}
    for i, (_, name) in enumerate(names):
        frame = parse_name(name, lexicon)
        if frame.objects:
            key = (frame.objects, frame.actions, frame.qualifiers - LEVELS)
            groups.setdefault(key, []).append(i)
    rng = random.Random(seed)
    examples = []
    for (objects, actions, qualifiers), members in sorted(groups.items(), key=lambda g: g[1][0]):
        inside = set(members)
        plain = [i for i in members if not inside.intersection(siblings[i])]
        codes = tuple(names[i][0] for i in plain)
        for _ in range(per_frame):
            words = [rng.choice(OPENINGS)]
            for action in sorted(actions):
                cues = spoken.get(("action", action), ())
                if action not in BASE_ACTIONS or rng.random() < 0.5:
                    words.append(rng.choice((action, *cues)))
            for item in sorted(objects):
                words.append(rng.choice((item, *spoken.get(("object", item), ()))))
            for tag in sorted(qualifiers):
                words.append(rng.choice(spoken.get(("qualifier", tag), ("",))))
            words.append(rng.choice(ASPECT_TAILS))
            text = " ".join(w for w in words if w)
            if rng.random() < 1 / 3:
                text = fold_accents(text)
            examples.append(Example(text, codes, "synthetic"))
    return examples


@dataclass
class QueryRows:
    """One question's candidates: features, relevance labels, and the codes of each."""

    features: NDArray[np.float32]
    labels: NDArray[np.int32]
    codes: list[tuple[str, ...]]
    candidate_hit: bool  # an expected code is among the candidates at all
    expected: tuple[str, ...] = ()
    curated: bool = False  # asked by a person (counts towards popularity), not generated


def query_rows(
    searcher: HybridSearcher, example: Example, strip_accents: bool = False
) -> QueryRows:
    text = fold_accents(normalize_text(example.question)) if strip_accents else example.question
    ranking = searcher.rank(analyze(text, searcher.index))
    documents = searcher.index.documents
    codes = [documents[d].codes for d in ranking.candidates]
    expected = set(example.codes)
    labels = np.array([int(bool(expected & set(c))) for c in codes], dtype=np.int32)
    return QueryRows(
        ranking.features,
        labels,
        codes,
        bool(labels.any()),
        example.codes,
        example.source != "synthetic",
    )


def popularity_of(rows: Iterable[QueryRows]) -> dict[str, float]:
    """How many curated questions ask about each procedure."""
    counts: Counter[str] = Counter()
    for item in rows:
        if item.curated:
            counts.update(item.expected)
    return dict(counts)


def training_sample(
    rows: QueryRows, rng: random.Random, popularity: dict[str, float]
) -> tuple[NDArray[np.float32], NDArray[np.int32]]:
    """Positives, the top negatives, and a few random ones from the tail (candidates come in the
    unranked searcher's fusion order)."""
    count = len(rows.labels)
    keep = set(range(min(TRAIN_NEGATIVES_TOP, count))) | set(np.flatnonzero(rows.labels).tolist())
    tail = [i for i in range(TRAIN_NEGATIVES_TOP, count) if i not in keep]
    keep |= set(rng.sample(tail, min(TRAIN_NEGATIVES_RANDOM, len(tail))))
    chosen = sorted(keep)
    features = rows.features[chosen].copy()
    own = frozenset(rows.expected) if rows.curated else frozenset()
    features[:, POPULARITY] = popularity_column([rows.codes[i] for i in chosen], popularity, own)
    return features, rows.labels[chosen]


def fit_ranker(rows: Sequence[QueryRows], seed: int, rounds: int = 200) -> Ranker:
    """A ranker (booster and the popularity table it learnt with); ``pipeline.train`` adds the
    calibration and the figures."""
    import lightgbm

    rng = random.Random(seed)
    popularity = popularity_of(rows)
    features, labels, groups = [], [], []
    for item in rows:
        if not item.candidate_hit:
            continue  # nothing to learn where the answer is not among the candidates
        x, y = training_sample(item, rng, popularity)
        features.append(x)
        labels.append(y)
        groups.append(len(y))
    dataset = lightgbm.Dataset(
        np.vstack(features), np.concatenate(labels), group=groups, feature_name=list(FEATURE_NAMES)
    )
    params = {**RANKER_PARAMS, "seed": seed}
    booster = lightgbm.train(params, dataset, num_boost_round=rounds)
    info = RankerInfo(
        trained_at=datetime.now(UTC).isoformat(timespec="seconds"),
        examples=len(rows),
        queries=len(groups),
        sources=dict(Counter("curated" if r.curated else "synthetic" for r in rows)),
    )
    return Ranker(booster, info, popularity)


def ranked_codes(scores: NDArray[np.float64], codes: list[tuple[str, ...]], k: int) -> list[str]:
    order = np.argsort(-scores, kind="stable")
    ranked: list[str] = []
    for i in order:
        ranked.extend(c for c in codes[i] if c not in ranked)
        if len(ranked) >= k:
            break
    return ranked[:k]


def fit_calibration(
    tops: NDArray[np.float64], margins: NDArray[np.float64], correct: NDArray[np.float64]
) -> tuple[float, float, float]:
    """Platt scaling of the top score and its margin into P(top is right)."""
    from scipy.optimize import minimize

    def loss(params: NDArray[np.float64]) -> float:
        z = params[0] * tops + params[1] * margins + params[2]
        return float(np.mean(np.logaddexp(0, z) - correct * z))

    fitted = minimize(loss, np.array([1.0, 1.0, 0.0]), method="L-BFGS-B")
    return float(fitted.x[0]), float(fitted.x[1]), float(fitted.x[2])
