"""What the knowledge base answers with: the answer, the procedures and FAQ entries it found,
and how an index refresh went."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

# Why a question was not answered, each with its own wording:
# out_of_scope    not about administrative procedures at all (weather, football)
# unsure          about a procedure, but which one is not clear: the closest ones are offered
# not_understood  nothing to go on (only fillers, or not words): asked to rephrase
# figure_missing  a province figure staff have not entered yet
# not_in_province a record or paper this province's catalogue has no procedure for
RefusalKind = Literal[
    "out_of_scope", "unsure", "not_understood", "figure_missing", "not_in_province"
]


@dataclass(frozen=True)
class IndexRefresh:
    ok: bool
    message: str


@dataclass(frozen=True)
class ProcedureHit:
    code: str
    name: str
    score: float
    level: str
    agency: str
    url: str


@dataclass(frozen=True)
class FaqHit:
    id: int
    question: str
    answer: str
    procedure_codes: list[str]
    score: float


@dataclass(frozen=True)  # shared between callers by the answer cache
class AskResult:
    answerable: bool
    aspect: str
    answer: str
    procedures: list[ProcedureHit] = field(default_factory=list)
    faq: list[FaqHit] = field(default_factory=list)
    confidence: float = 0.0
    from_faq: bool = False  # the answer is a curated FAQ entry, not composed from a procedure
    # why it was not answered (see knowledge_base.answer.refusals)
    refusal_kind: RefusalKind | None = None
