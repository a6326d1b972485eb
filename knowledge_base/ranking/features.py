"""Features of (question, candidate) pairs, computed from precomputed per-document profiles."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from knowledge_base.retrieval.documents import SearchDocument
from knowledge_base.text.tokens import STOP_SYLLABLES, folded_syllables
from knowledge_base.understanding.frame import BASE_ACTIONS, Frame, parse_name

FEATURE_NAMES = (
    "full_bm25",
    "full_rank",
    "name_bm25",
    "name_rank",
    "dense_sim",
    "dense_gap",
    "dense_rank",
    "title_covered",
    "query_covered",
    "title_bigrams_covered",
    "query_bigrams_covered",
    "objects_shared",
    "objects_missing",
    "objects_extra",
    "action_match",
    "action_conflict",
    "base_action_without_cue",
    "qualifiers_extra",
    "qualifiers_matched",
    "qualifiers_missing",
    "title_syllables",
    "is_faq",
    "query_syllables",
    "query_without_object",
    "title_words_unasked",
    "generic_siblings_in_candidates",
    "specialisation_asked",
    "popularity",  # filled by the ranker from its own table: how often curated data asks this
)
POPULARITY = FEATURE_NAMES.index("popularity")
# The direction each feature may push a score (0: free). Constraining the evidence that has an
# obvious direction (more shared objects can only help, an action conflict can only hurt) keeps
# the model sane on catalogues it was not trained on, such as the 40-procedure sample.
MONOTONE = {
    **dict.fromkeys(["full_bm25", "name_bm25", "dense_sim", "dense_gap"], 1),
    **dict.fromkeys(["full_rank", "name_rank", "dense_rank"], -1),
    **dict.fromkeys(
        ["title_covered", "query_covered", "title_bigrams_covered", "query_bigrams_covered"], 1
    ),
    **dict.fromkeys(["objects_shared", "action_match", "qualifiers_matched"], 1),
    **dict.fromkeys(["objects_missing", "objects_extra", "action_conflict"], -1),
    **dict.fromkeys(["qualifiers_extra", "qualifiers_missing", "title_words_unasked"], -1),
    "generic_siblings_in_candidates": -1,
    "specialisation_asked": 1,
    "popularity": 1,
}
ABSENT_RANK = 1000.0


@dataclass(frozen=True)
class TextProfile:
    words: frozenset[str]
    bigrams: frozenset[tuple[str, str]]
    length: int

    @classmethod
    def of(cls, text: str) -> TextProfile:
        folded = folded_syllables(text)
        words = frozenset(w for w in folded if w not in STOP_SYLLABLES)
        return cls(words, frozenset(itertools.pairwise(folded)), len(folded))


@dataclass(frozen=True)
class DocumentProfile:
    text: TextProfile
    frame: Frame
    is_faq: bool
    # procedures whose name is this one's minus some words: "Đăng ký khai sinh" for "Đăng ký
    # khai sinh có yếu tố nước ngoài"; and the words that set this one apart from the closest
    generic_siblings: tuple[int, ...] = ()
    own_words: frozenset[str] = frozenset()


def generic_siblings(texts: Sequence[TextProfile], eligible: Sequence[bool]) -> list[list[int]]:
    """For each name, the eligible names whose words are a strict subset of its own, found
    through the sibling's rarest word (which the longer name must contain)."""
    frequency = Counter(w for t in texts for w in t.words)
    by_rarest: dict[str, list[int]] = {}
    for i, text in enumerate(texts):
        if text.words and eligible[i]:
            by_rarest.setdefault(min(text.words, key=lambda w: (frequency[w], w)), []).append(i)
    return [
        sorted({p for w in t.words for p in by_rarest.get(w, ()) if texts[p].words < t.words})
        for t in texts
    ]


def document_profiles(documents: Sequence[SearchDocument]) -> list[DocumentProfile]:
    texts = [TextProfile.of(d.title) for d in documents]
    siblings = generic_siblings(texts, [d.kind == "procedure" for d in documents])
    profiles = []
    for document, text, own_siblings in zip(documents, texts, siblings, strict=True):
        closest = max(own_siblings, key=lambda p: len(texts[p].words), default=None)
        own = text.words - texts[closest].words if closest is not None else frozenset()
        profiles.append(
            DocumentProfile(
                text,
                parse_name(document.title),
                document.kind == "faq",
                tuple(own_siblings),
                own,
            )
        )
    return profiles


@dataclass(frozen=True)
class RetrieverScores:
    """Each retriever's scores over the whole corpus (dense: cosine, -1 where not found)."""

    full: NDArray[np.float32]
    name: NDArray[np.float32]
    dense: NDArray[np.float32] | None


def _ranks(scores: NDArray[np.float32], depth: int) -> dict[int, int]:
    """Rank of each of the top ``depth`` documents that the retriever found at all (BM25 > 0,
    dense > -1, the fill value for vectors faiss did not return)."""
    floor = 0.0 if scores.min() >= 0 else -1.0
    order = np.argsort(-scores, kind="stable")[:depth]
    return {int(d): r for r, d in enumerate(order) if scores[d] > floor}


def candidate_ranks(scores: RetrieverScores, depth: int) -> tuple[list[int], list[dict[int, int]]]:
    """The union of every retriever's top ``depth``, in first-seen order, and each one's ranks."""
    rankings = [_ranks(scores.full, depth), _ranks(scores.name, depth)]
    if scores.dense is not None:
        rankings.append(_ranks(scores.dense, depth))
    union = list(dict.fromkeys(itertools.chain.from_iterable(rankings)))
    return union, rankings


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def feature_matrix(
    candidates: list[int],
    rankings: list[dict[int, int]],
    scores: RetrieverScores,
    profiles: list[DocumentProfile],
    query_text: TextProfile,
    query_frame: Frame,
) -> NDArray[np.float32]:
    rows = np.zeros((len(candidates), len(FEATURE_NAMES)), dtype=np.float32)
    if not candidates:
        return rows
    full_max = float(scores.full.max()) or 1.0
    name_max = float(scores.name.max()) or 1.0
    dense_max = float(scores.dense.max()) if scores.dense is not None else 0.0
    full_rank, name_rank = rankings[0], rankings[1]
    dense_rank = rankings[2] if len(rankings) > 2 else {}
    q_words, q_bigrams = query_text.words, query_text.bigrams
    q_obj, q_act, q_qual = query_frame.objects, query_frame.actions, query_frame.qualifiers
    present = set(candidates)
    for row, doc in enumerate(candidates):
        profile = profiles[doc]
        title, frame = profile.text, profile.frame
        dense = float(scores.dense[doc]) if scores.dense is not None else 0.0
        n_act = frame.actions
        rows[row] = (
            float(scores.full[doc]) / full_max,
            np.log1p(full_rank.get(doc, ABSENT_RANK)),
            float(scores.name[doc]) / name_max,
            np.log1p(name_rank.get(doc, ABSENT_RANK)),
            dense,
            dense - dense_max,
            np.log1p(dense_rank.get(doc, ABSENT_RANK)),
            _share(len(title.words & q_words), len(title.words)),
            _share(len(title.words & q_words), len(q_words)),
            _share(len(title.bigrams & q_bigrams), len(title.bigrams)),
            _share(len(title.bigrams & q_bigrams), len(q_bigrams)),
            len(frame.objects & q_obj),
            len(q_obj - frame.objects),
            len(frame.objects - q_obj),
            bool(q_act & n_act),
            bool(q_act and n_act and not (q_act & n_act)),
            bool(not q_act and (not n_act or n_act & BASE_ACTIONS)),
            len(frame.qualifiers - q_qual),
            len(frame.qualifiers & q_qual),
            len(q_qual - frame.qualifiers),
            title.length,
            profile.is_faq,
            query_text.length,
            not q_obj,
            len(title.words - q_words),
            sum(1 for s in profile.generic_siblings if s in present),
            _share(len(profile.own_words & q_words), len(profile.own_words))
            if profile.own_words
            else -1.0,
            0.0,
        )
    return rows
