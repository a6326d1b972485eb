"""Where a question's time goes: analysis, the three retrievers, features, the ranker.

Times each stage of ``HybridSearcher.rank`` over a question file (cold: the query-vector cache
is cold: a fresh process, every question distinct) on the configured data dir, and prints p50/p95 per stage in milliseconds.

    HOTLINE_DATA_DIR=var/full-catalogue .venv/bin/python benchmarks/ranker_cost.py \
        --questions tests/data/everyday_dev.jsonl
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from knowledge_base.evaluation import read_jsonl
from knowledge_base.ranking.features import candidate_ranks, feature_matrix
from knowledge_base.retrieval.searcher import CANDIDATE_DEPTH, analyze
from knowledge_base.service import KnowledgeBase
from knowledge_base.settings import get_settings


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))], 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=Path, required=True)
    args = parser.parse_args()
    kb = KnowledgeBase(get_settings())
    kb.warm_up()
    searcher = kb.searcher
    assert searcher.ranker is not None, "no ranker model"
    stages: dict[str, list[float]] = {
        k: [] for k in ("analyze", "retrievers", "features", "ranker", "candidates")
    }
    documents = searcher.index.documents
    for item in read_jsonl(args.questions):
        started = time.perf_counter()
        query = analyze(item.question, searcher.index)
        analysed = time.perf_counter()
        scores = searcher.retriever_scores(query)
        retrieved = time.perf_counter()
        candidates, rankings = candidate_ranks(scores, CANDIDATE_DEPTH)
        features = feature_matrix(
            candidates, rankings, scores, searcher.profiles, query.profile, query.frame
        )
        featured = time.perf_counter()
        searcher.ranker.scores(features, [documents[d].codes for d in candidates])
        ranked = time.perf_counter()
        stages["analyze"].append((analysed - started) * 1000)
        stages["retrievers"].append((retrieved - analysed) * 1000)
        stages["features"].append((featured - retrieved) * 1000)
        stages["ranker"].append((ranked - featured) * 1000)
        stages["candidates"].append(len(candidates))
    report = {
        stage: {"p50": _p(v, 0.5), "p95": _p(v, 0.95), "mean": round(statistics.fmean(v), 2)}
        for stage, v in stages.items()
    }
    report["questions"] = {"count": len(stages["ranker"])}
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
