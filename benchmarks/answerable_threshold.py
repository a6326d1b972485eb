"""Sweep the ``answerable`` threshold over in-scope and out-of-scope questions.

Prints, per threshold, the share of in-scope questions answered and of out-of-scope questions
refused, so the default (``HOTLINE_ANSWERABLE_THRESHOLD``) is chosen on data. Uses the
catalogue and index of the configured data dir (the bundled sample by default).

    .venv/bin/python benchmarks/answerable_threshold.py \
        --in-scope tests/data/in_scope.jsonl --out-of-scope tests/data/refusals.jsonl
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from knowledge_base.evaluation import read_jsonl
from knowledge_base.service import KnowledgeBase, is_out_of_scope
from knowledge_base.settings import get_settings


def confidences(kb: KnowledgeBase, path: Path) -> list[float]:
    """The confidence ``ask`` computes; questions caught by the topic list count as 0."""
    out = []
    for item in read_jsonl(path):
        out.append(0.0 if is_out_of_scope(item.question) else kb.ask(item.question).confidence)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--in-scope", type=Path, required=True)
    parser.add_argument("--out-of-scope", type=Path, required=True)
    args = parser.parse_args()
    kb = KnowledgeBase(get_settings())
    kb.warm_up()
    answer = confidences(kb, args.in_scope)
    refuse = confidences(kb, args.out_of_scope)
    rows = []
    for step in range(0, 21):
        threshold = step / 20
        answered = sum(c >= threshold for c in answer) / len(answer)
        refused = sum(c < threshold for c in refuse) / len(refuse)
        rows.append(
            {
                "threshold": threshold,
                "in_scope_answered": round(answered, 3),
                "out_of_scope_refused": round(refused, 3),
                "balanced_accuracy": round((answered + refused) / 2, 3),
            }
        )
    best = max(rows, key=lambda r: (r["balanced_accuracy"], r["in_scope_answered"]))
    print(
        json.dumps(
            {"configured": kb.settings.answerable_threshold, "best": best, "sweep": rows}, indent=1
        )
    )
    print("in-scope confidences:", sorted(round(c, 2) for c in answer))
    print("out-of-scope confidences:", sorted(round(c, 2) for c in refuse))


if __name__ == "__main__":
    main()
