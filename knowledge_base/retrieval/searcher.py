"""Query analysis and search: deep candidates from every retriever (BM25 over full text, BM25
over names, dense vectors), then the learned ranker over their features.

Without a trained ranker (the first training run needs candidates) the candidates are ordered by
reciprocal rank fusion.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import bm25s
import numpy as np
from numpy.typing import NDArray

from knowledge_base.ranking.features import (
    RetrieverScores,
    TextProfile,
    candidate_ranks,
    document_profiles,
    feature_matrix,
)
from knowledge_base.ranking.model import Ranker
from knowledge_base.retrieval.documents import SearchDocument
from knowledge_base.retrieval.embedder import Embedder
from knowledge_base.retrieval.index import SearchIndex
from knowledge_base.text.normalize import has_accents, strip_fillers
from knowledge_base.text.tokens import lexical_tokens
from knowledge_base.understanding.frame import Frame, expand, parse_name, parse_question

CANDIDATE_DEPTH = 200  # per retriever; the ranker sees the union
RRF_K = 30
QUERY_CACHE_SIZE = 4096


@dataclass(frozen=True)
class AnalyzedQuery:
    original: str
    cleaned: str  # fillers stripped, normalised
    accented: str  # accents restored when the citizen typed none
    frame: Frame
    tokens: list[str]
    dense_text: str
    profile: TextProfile


@dataclass(frozen=True)
class Hit:
    document: SearchDocument
    score: float
    lexical_rank: int | None
    dense_rank: int | None
    dense_similarity: float


@dataclass(frozen=True)
class Ranking:
    """Every candidate with its features and score, best first: what the ranker is trained on."""

    candidates: list[int]
    features: NDArray[np.float32]
    scores: NDArray[np.float64]
    rankings: list[dict[int, int]]
    retriever_scores: RetrieverScores
    confidence: float


def analyze(question: str, index: SearchIndex) -> AnalyzedQuery:
    cleaned = strip_fillers(question)
    accented = cleaned if has_accents(cleaned) else index.accents.restore(cleaned)
    frame = parse_question(cleaned)  # the citizen's own spelling: restored accents may be wrong
    expanded = expand(accented, frame)
    return AnalyzedQuery(
        original=question,
        cleaned=cleaned,
        accented=accented,
        frame=frame,
        tokens=lexical_tokens(expanded),
        dense_text=expanded,
        profile=TextProfile.of(expanded),
    )


def _bm25_scores(bm25: bm25s.BM25, tokens: list[str], size: int) -> NDArray[np.float32]:
    known = [t for t in tokens if t in bm25.vocab_dict]
    if not known:
        return np.zeros(size, dtype=np.float32)
    return np.asarray(bm25.get_scores(known), dtype=np.float32)


class HybridSearcher:
    """Read-only over a loaded ``SearchIndex``; safe to call from worker threads."""

    def __init__(
        self, index: SearchIndex, embedder: Embedder | None, ranker: Ranker | None = None
    ) -> None:
        self.index = index
        self.embedder = embedder
        self.ranker = ranker
        documents = index.documents
        self.profiles = document_profiles(documents)
        # the records and papers this catalogue has procedures for ("hộ chiếu", "kết hôn")
        self.catalogue_objects = frozenset(
            o for p in self.profiles if not p.is_faq for o in p.frame.objects
        )
        # names alone, so a short question is not outweighed by long free-text fields
        self._name_bm25 = bm25s.BM25(k1=1.2, b=0.5)
        names = [lexical_tokens(expand(doc.title, parse_name(doc.title))) for doc in documents]
        self._name_bm25.index(names or [["_"]], show_progress=False)
        # Hotline callers ask the same few questions over and over; the query vector is the
        # costliest step, so repeated wordings skip it.
        self._query_vector = lru_cache(maxsize=QUERY_CACHE_SIZE)(self._embed_query)

    def procedures_about(self, objects: frozenset[str]) -> list[tuple[str, str, Frame]]:
        """(code, name, parsed name) of each procedure whose name names one of ``objects``."""
        return [
            (doc.codes[0], doc.title, profile.frame)
            for doc, profile in zip(self.index.documents, self.profiles, strict=True)
            if not profile.is_faq and profile.frame.objects & objects
        ]

    def _embed_query(self, text: str) -> np.ndarray:
        assert self.embedder is not None
        return self.embedder.embed_queries([text])

    def _dense_scores(self, text: str) -> NDArray[np.float32] | None:
        if self.embedder is None or self.index.vector_index is None:
            return None
        query = self._query_vector(text)
        count = min(CANDIDATE_DEPTH * 2, self.index.vector_index.ntotal)  # type: ignore[attr-defined]
        sims, ids = self.index.vector_index.search(query, count)  # type: ignore[attr-defined]
        scores = np.full(len(self.index.documents), -1.0, dtype=np.float32)
        owners = self.index.vector_owner[ids[0][ids[0] >= 0]]
        np.maximum.at(scores, owners, sims[0][: len(owners)])
        return scores

    def retriever_scores(self, query: AnalyzedQuery) -> RetrieverScores:
        size = len(self.index.documents)
        return RetrieverScores(
            full=_bm25_scores(self.index.bm25, query.tokens, size),
            name=_bm25_scores(self._name_bm25, query.tokens, size),
            dense=self._dense_scores(query.dense_text),
        )

    def rank(self, query: AnalyzedQuery) -> Ranking:
        scores = self.retriever_scores(query)
        candidates, rankings = candidate_ranks(scores, CANDIDATE_DEPTH)
        features = feature_matrix(
            candidates, rankings, scores, self.profiles, query.profile, query.frame
        )
        documents = self.index.documents
        if self.ranker is not None:
            scored = self.ranker.scores(features, [documents[d].codes for d in candidates])
        else:
            scored = np.array(
                [sum(1.0 / (RRF_K + r.get(d, 10**6) + 1) for r in rankings) for d in candidates]
            )
        order = np.argsort(-scored, kind="stable")
        ordered = scored[order]
        confidence = self.ranker.confidence(ordered) if self.ranker is not None else 0.0
        return Ranking(
            [candidates[i] for i in order],
            features[order],
            ordered,
            rankings,
            scores,
            confidence,
        )

    def search(self, query: AnalyzedQuery, top_k: int = 10) -> list[Hit]:
        if not self.index.documents:
            return []
        return self.hits(self.rank(query), top_k)

    def hits(self, ranking: Ranking, top_k: int) -> list[Hit]:
        dense = ranking.retriever_scores.dense
        dense_rank = ranking.rankings[2] if len(ranking.rankings) > 2 else {}
        return [
            Hit(
                document=self.index.documents[doc],
                score=float(score),
                lexical_rank=ranking.rankings[0].get(doc),
                dense_rank=dense_rank.get(doc),
                dense_similarity=float(dense[doc]) if dense is not None else 0.0,
            )
            for doc, score in zip(ranking.candidates[:top_k], ranking.scores[:top_k], strict=True)
        ]


def unranked_confidence(hit: Hit) -> float:
    """Without a trained ranker: how sure the top hit is relevant, from dense similarity
    (e5 similarities crowd into 0.75–0.95, so they are stretched onto 0–1 from 0.78 upwards)."""
    dense = max(0.0, (hit.dense_similarity - 0.78) / 0.14)
    both_agree = 0.15 if hit.lexical_rank == 0 and hit.dense_rank == 0 else 0.0
    return min(1.0, dense + both_agree)
