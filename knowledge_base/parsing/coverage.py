"""Parse coverage of the stored catalogue: how much could be turned into numbers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from knowledge_base.models import Procedure
from knowledge_base.text.normalize import fold_accents, normalize_text


def _states(text: str) -> bool:
    folded = fold_accents(normalize_text(text))
    return bool(folded) and not folded.startswith("khong co thong tin")


def coverage_report(engine: Engine) -> dict[str, Any]:
    total = time_stated = time_parsed = fee_stated = fee_parsed = with_docs = 0
    with Session(engine) as session:
        for p in session.scalars(select(Procedure)):
            total += 1
            with_docs += bool(p.documents)
            if any(_states(c.time_limit_text) for c in p.channels):
                time_stated += 1
                time_parsed += any(c.time_limit_value is not None for c in p.channels)
            if any(_states(c.fee_text) for c in p.channels):
                fee_stated += 1
                fee_parsed += any(c.fee_free or c.fee_vnd is not None for c in p.channels)

    def share(part: int, whole: int) -> float | None:
        return round(part / whole, 4) if whole else None

    return {
        "procedures": total,
        "time_limit_parsed_share_of_all": share(time_parsed, total),
        "time_limit_parsed_where_stated": share(time_parsed, time_stated),
        "fee_parsed_share_of_all": share(fee_parsed, total),
        "fee_parsed_where_stated": share(fee_parsed, fee_stated),
        "documents_share": share(with_docs, total),
    }
