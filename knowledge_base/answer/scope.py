"""Questions that are plainly not about administrative procedures (weather, football…), from
the patterns in ``data/out_of_scope.txt`` (accent-folded regular expressions)."""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

from knowledge_base.text.normalize import fold_accents, normalize_text


@lru_cache(maxsize=1)
def out_of_scope_patterns() -> tuple[re.Pattern[str], ...]:
    raw = resources.files("knowledge_base.data").joinpath("out_of_scope.txt").read_text("utf-8")
    return tuple(
        re.compile(line) for line in raw.splitlines() if line.strip() and not line.startswith("#")
    )


def is_out_of_scope(question: str) -> bool:
    folded = fold_accents(normalize_text(question))
    return any(p.search(folded) for p in out_of_scope_patterns())
