"""Sweep the ``answerable`` threshold over in-scope and out-of-scope questions.

Asks every question as ``/api/v1/ask`` would at each threshold and prints the share of in-scope
questions answered (and how the others were turned away: "unsure" offers the closest
procedures, "out_of_scope" refuses) and of out-of-scope questions refused, so the default
(``HOTLINE_ANSWERABLE_THRESHOLD``) is chosen on data. Uses the catalogue and index of the
configured data dir (the bundled sample by default).

    .venv/bin/python benchmarks/answerable_threshold.py \
        --in-scope tests/data/everyday_dev.jsonl --out-of-scope tests/data/refusals.jsonl
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from knowledge_base.evaluation import read_jsonl
from knowledge_base.service import KnowledgeBase
from knowledge_base.settings import get_settings

THRESHOLDS = (0.2, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--in-scope", type=Path, required=True)
    parser.add_argument("--out-of-scope", type=Path, required=True)
    args = parser.parse_args()
    kb = KnowledgeBase(get_settings())
    kb.warm_up()
    configured = kb.settings.answerable_threshold
    answer = [q.question for q in read_jsonl(args.in_scope)]
    refuse = [q.question for q in read_jsonl(args.out_of_scope)]
    rows = []
    for threshold in THRESHOLDS:
        kb.settings.answerable_threshold = threshold
        kinds = Counter(
            "answered" if r.answerable else str(r.refusal_kind) for r in map(kb.ask, answer)
        )
        refused = sum(not kb.ask(q).answerable for q in refuse)
        rows.append(
            {
                "threshold": threshold,
                "in_scope_answered": round(kinds["answered"] / len(answer), 3),
                "in_scope_unsure": round(kinds["unsure"] / len(answer), 3),
                "in_scope_refused_as_out_of_scope": round(kinds["out_of_scope"] / len(answer), 3),
                "out_of_scope_refused": f"{refused}/{len(refuse)}",
            }
        )
    print(json.dumps({"configured": configured, "sweep": rows}, indent=1))


if __name__ == "__main__":
    main()
