"""Training data and training for the ranker.

Examples come from three honest sources: questions generated from the catalogue's own names
(rewritten through the lexicon), hand-written and curated question files, and staff acts that
tie a wording to a procedure (FAQ entries). Candidates and features do not depend on the ranker,
so they are computed once and reused by every fold of a cross-validation.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from knowledge_base.ranking.features import FEATURE_NAMES
from knowledge_base.retrieval.searcher import HybridSearcher, analyze
from knowledge_base.text.normalize import fold_accents, normalize_text
from knowledge_base.understanding.frame import parse_name
from knowledge_base.understanding.lexicon import Lexicon, bundled_lexicon

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
    lexicon = lexicon or bundled_lexicon()
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


@dataclass
class QueryRows:
    """One question's candidates: features, relevance labels, and the codes of each."""

    features: NDArray[np.float32]
    labels: NDArray[np.int32]
    codes: list[tuple[str, ...]]
    candidate_hit: bool  # an expected code is among the candidates at all


def query_rows(
    searcher: HybridSearcher, example: Example, strip_accents: bool = False
) -> QueryRows:
    text = fold_accents(normalize_text(example.question)) if strip_accents else example.question
    ranking = searcher.rank(analyze(text, searcher.index))
    documents = searcher.index.documents
    codes = [documents[d].codes for d in ranking.candidates]
    expected = set(example.codes)
    labels = np.array([int(bool(expected & set(c))) for c in codes], dtype=np.int32)
    return QueryRows(ranking.features, labels, codes, bool(labels.any()))


def training_sample(
    rows: QueryRows, rng: random.Random
) -> tuple[NDArray[np.float32], NDArray[np.int32]]:
    """Positives, the top negatives, and a few random ones from the tail (candidates come in the
    unranked searcher's fusion order)."""
    count = len(rows.labels)
    keep = set(range(min(TRAIN_NEGATIVES_TOP, count))) | set(np.flatnonzero(rows.labels).tolist())
    tail = [i for i in range(TRAIN_NEGATIVES_TOP, count) if i not in keep]
    keep |= set(rng.sample(tail, min(TRAIN_NEGATIVES_RANDOM, len(tail))))
    chosen = sorted(keep)
    return rows.features[chosen], rows.labels[chosen]


def fit_ranker(rows: Iterable[QueryRows], seed: int, rounds: int = 300) -> object:
    import lightgbm

    rng = random.Random(seed)
    features, labels, groups = [], [], []
    for item in rows:
        if not item.candidate_hit:
            continue  # nothing to learn where the answer is not among the candidates
        x, y = training_sample(item, rng)
        features.append(x)
        labels.append(y)
        groups.append(len(y))
    dataset = lightgbm.Dataset(
        np.vstack(features), np.concatenate(labels), group=groups, feature_name=list(FEATURE_NAMES)
    )
    params = {
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
        "seed": seed,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": 2,
        "verbose": -1,
    }
    return lightgbm.train(params, dataset, num_boost_round=rounds)


def ranked_codes(scores: NDArray[np.float64], codes: list[tuple[str, ...]], k: int) -> list[str]:
    order = np.argsort(-scores, kind="stable")
    ranked: list[str] = []
    for i in order:
        ranked.extend(c for c in codes[i] if c not in ranked)
        if len(ranked) >= k:
            break
    return ranked[:k]


def fit_calibration(
    margins: NDArray[np.float64], correct: NDArray[np.float64]
) -> tuple[float, float]:
    """Platt scaling of the top-two margin into P(top is right)."""
    from scipy.optimize import minimize

    def loss(params: NDArray[np.float64]) -> float:
        z = params[0] * margins + params[1]
        return float(np.mean(np.logaddexp(0, z) - correct * z))

    fitted = minimize(loss, np.array([1.0, 0.0]), method="L-BFGS-B")
    return float(fitted.x[0]), float(fitted.x[1])
