"""Query analysis and hybrid search: BM25 and dense rankings joined by reciprocal rank fusion."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from knowledge_base.retrieval.documents import SearchDocument
from knowledge_base.retrieval.embedder import Embedder
from knowledge_base.retrieval.index import SearchIndex
from knowledge_base.text.normalize import has_accents, strip_fillers
from knowledge_base.text.synonyms import expand_synonyms
from knowledge_base.text.tokens import content_syllables, folded_syllables, lexical_tokens

RRF_K = 30
CANDIDATES = 100
# Rerank stage: the fused top candidates are re-scored with how much of each title the question
# covers, so that the exact variant ("không phải đánh giá rủi ro", "cấp xã") beats its siblings
# and a generic procedure beats a long specialised one that merely shares words.
RERANK_DEPTH = 30
RRF_SCALE = 30.0  # brings fused scores (at most 2 / (RRF_K + 1)) to about 0–2
TITLE_BIGRAM_WEIGHT = 0.4
TITLE_SYLLABLE_WEIGHT = 0.2
QUERY_CACHE_SIZE = 4096


@dataclass(frozen=True)
class AnalyzedQuery:
    original: str
    cleaned: str  # fillers stripped, normalised
    accented: str  # accents restored when the citizen typed none
    tokens: list[str]
    dense_text: str


@dataclass(frozen=True)
class Hit:
    document: SearchDocument
    score: float
    lexical_rank: int | None
    dense_rank: int | None
    dense_similarity: float
    lexical_coverage: float


def analyze(question: str, index: SearchIndex) -> AnalyzedQuery:
    cleaned = strip_fillers(question)
    accented = cleaned if has_accents(cleaned) else index.accents.restore(cleaned)
    expanded = expand_synonyms(accented)
    return AnalyzedQuery(
        original=question,
        cleaned=cleaned,
        accented=accented,
        tokens=lexical_tokens(expanded),
        dense_text=expanded,
    )


@dataclass(frozen=True)
class TitleProfile:
    syllables: frozenset[str]
    bigrams: frozenset[tuple[str, str]]

    @classmethod
    def of(cls, text: str) -> TitleProfile:
        words = folded_syllables(text)
        return cls(frozenset(words), frozenset(itertools.pairwise(words)))

    def covered_by(self, query: TitleProfile) -> float:
        """Share of this title's syllables and bigrams that the query contains, weighted."""
        syllable_share = len(self.syllables & query.syllables) / max(1, len(self.syllables))
        bigram_share = len(self.bigrams & query.bigrams) / max(1, len(self.bigrams))
        return TITLE_BIGRAM_WEIGHT * bigram_share + TITLE_SYLLABLE_WEIGHT * syllable_share


class HybridSearcher:
    """Read-only over a loaded ``SearchIndex``; safe to call from worker threads."""

    def __init__(self, index: SearchIndex, embedder: Embedder | None) -> None:
        self.index = index
        self.embedder = embedder
        self._titles = [TitleProfile.of(doc.title) for doc in index.documents]
        # Hotline callers ask the same few questions over and over; the query vector is the
        # costliest step, so repeated wordings skip it.
        self._query_vector = lru_cache(maxsize=QUERY_CACHE_SIZE)(self._embed_query)

    def _embed_query(self, text: str) -> np.ndarray:
        assert self.embedder is not None
        return self.embedder.embed_queries([text])

    def _lexical_scores(self, tokens: list[str]) -> np.ndarray:
        vocab = self.index.bm25.vocab_dict
        known = [t for t in tokens if t in vocab]
        if not known:
            return np.zeros(len(self.index.documents), dtype=np.float32)
        return np.asarray(self.index.bm25.get_scores(known), dtype=np.float32)

    def _dense_scores(self, text: str) -> np.ndarray | None:
        if self.embedder is None or self.index.vector_index is None:
            return None
        query = self._query_vector(text)
        count = min(CANDIDATES * 2, self.index.vector_index.ntotal)  # type: ignore[attr-defined]
        sims, ids = self.index.vector_index.search(query, count)  # type: ignore[attr-defined]
        scores = np.full(len(self.index.documents), -1.0, dtype=np.float32)
        owners = self.index.vector_owner[ids[0][ids[0] >= 0]]
        np.maximum.at(scores, owners, sims[0][: len(owners)])
        return scores

    def _rerank(self, query: AnalyzedQuery, fused: np.ndarray) -> list[tuple[int, float]]:
        candidates = [
            int(d) for d in np.argsort(-fused, kind="stable")[:RERANK_DEPTH] if fused[d] > 0
        ]
        profile = TitleProfile.of(query.accented)
        rescored = {
            doc: RRF_SCALE * float(fused[doc]) + self._titles[doc].covered_by(profile)
            for doc in candidates
        }
        return sorted(rescored.items(), key=lambda item: -item[1])

    def search(self, query: AnalyzedQuery, top_k: int = 10) -> list[Hit]:
        documents = self.index.documents
        if not documents:
            return []
        lexical = self._lexical_scores(query.tokens)
        dense = self._dense_scores(query.dense_text)
        fused = np.zeros(len(documents), dtype=np.float64)
        lexical_order = np.argsort(-lexical, kind="stable")[:CANDIDATES]
        lexical_rank = {int(d): r for r, d in enumerate(lexical_order) if lexical[d] > 0}
        for doc, rank in lexical_rank.items():
            fused[doc] += 1.0 / (RRF_K + rank + 1)
        dense_rank: dict[int, int] = {}
        if dense is not None:
            dense_order = np.argsort(-dense, kind="stable")[:CANDIDATES]
            dense_rank = {int(d): r for r, d in enumerate(dense_order) if dense[d] > -1}
            for doc, rank in dense_rank.items():
                fused[doc] += 1.0 / (RRF_K + rank + 1)
        ranked = self._rerank(query, fused)[:top_k]
        query_syllables = content_syllables(query.cleaned)
        hits = []
        for doc, score in ranked:
            title_syllables = content_syllables(documents[doc].title)
            coverage = (
                len(query_syllables & title_syllables) / len(query_syllables)
                if query_syllables
                else 0.0
            )
            hits.append(
                Hit(
                    document=documents[doc],
                    score=score,
                    lexical_rank=lexical_rank.get(doc),
                    dense_rank=dense_rank.get(doc),
                    dense_similarity=float(dense[doc]) if dense is not None else 0.0,
                    lexical_coverage=coverage,
                )
            )
        return hits
