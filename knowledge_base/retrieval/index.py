"""Build, persist and load the search index (BM25 + faiss + accent model + manifest)."""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import bm25s
import numpy as np
from numpy.typing import NDArray
from tqdm import tqdm

from knowledge_base.retrieval.documents import SearchDocument, corpus_hash
from knowledge_base.retrieval.embedder import Embedder
from knowledge_base.text.accents import AccentRestorer
from knowledge_base.text.tokens import lexical_tokens
from knowledge_base.understanding.frame import expand, parse_question

logger = logging.getLogger(__name__)
INDEX_FORMAT = 4  # 4: BM25 text expanded through the lexicon


@dataclass(frozen=True)
class Manifest:
    format: int
    model_id: str
    catalogue_hash: str
    built_at: float
    documents: int
    vectors: int

    def matches(self, model_id: str, catalogue_hash: str) -> bool:
        return (
            self.format == INDEX_FORMAT
            and self.model_id == model_id
            and self.catalogue_hash == catalogue_hash
        )


@dataclass
class SearchIndex:
    manifest: Manifest
    documents: list[SearchDocument]
    bm25: bm25s.BM25
    vector_index: object | None  # faiss.Index
    vector_owner: NDArray[np.int32]
    accents: AccentRestorer


def _faiss() -> Any:
    try:
        import faiss
    except ImportError as exc:  # pragma: no cover - dependency of the project
        raise RuntimeError("dense retrieval needs: pip install faiss-cpu") from exc
    return faiss


def build_index(
    documents: list[SearchDocument],
    embedder: Embedder | None,
    target: Path,
    batch_size: int = 32,
    progress: bool = False,
    previous: SearchIndex | None = None,
) -> SearchIndex:
    """Build beside ``target`` and swap it in with a rename, so readers never see half an index.

    Passage vectors of ``previous`` (same model) are reused, so that publishing one FAQ entry
    embeds one entry, not the whole catalogue.
    """
    started = time.time()
    staging = target.with_name(target.name + ".building")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)

    corpus = [
        lexical_tokens(expand(doc.lexical_text, parse_question(doc.lexical_text)))
        for doc in documents
    ]
    bm25 = bm25s.BM25(k1=1.2, b=0.75)
    bm25.index(corpus or [["_"]], show_progress=False)
    bm25.save(str(staging / "bm25"))

    accents = AccentRestorer().fit(doc.lexical_text for doc in documents)
    accents.save(staging / "accents.json")

    vector_index = None
    owners: list[int] = []
    model_id = "none"
    if embedder is not None:
        model_id = embedder.model_id
        embedder.warm_up()
        texts: list[str] = []
        for position, doc in enumerate(documents):
            texts.extend(doc.passages)
            owners.extend([position] * len(doc.passages))
        known = _reusable_vectors(previous, model_id)
        missing = list(dict.fromkeys(t for t in texts if t not in known))
        batches = range(0, len(missing), batch_size)
        for start in tqdm(batches, desc="embedding", unit="batch", disable=not progress):
            batch = missing[start : start + batch_size]
            known.update(zip(batch, embedder.embed_passages(batch), strict=True))
        if texts:
            vectors = np.ascontiguousarray(np.vstack([known[t] for t in texts]), dtype=np.float32)
            faiss = _faiss()
            vector_index = faiss.IndexFlatIP(vectors.shape[1])
            vector_index.add(vectors)
            faiss.write_index(vector_index, str(staging / "dense.faiss"))
    owner_array = np.asarray(owners, dtype=np.int32)
    np.save(staging / "vector_owner.npy", owner_array)

    (staging / "documents.json").write_text(
        json.dumps([asdict(d) for d in documents], ensure_ascii=False), encoding="utf-8"
    )
    manifest = Manifest(
        format=INDEX_FORMAT,
        model_id=model_id,
        catalogue_hash=corpus_hash(documents),
        built_at=time.time(),
        documents=len(documents),
        vectors=len(owners),
    )
    (staging / "manifest.json").write_text(json.dumps(asdict(manifest)), encoding="utf-8")

    old = target.with_name(target.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    staging.rename(target)
    shutil.rmtree(old, ignore_errors=True)
    logger.info(
        "index.built",
        extra={
            "documents": len(documents),
            "vectors": len(owners),
            "seconds": time.time() - started,
        },
    )
    return SearchIndex(manifest, documents, bm25, vector_index, owner_array, accents)


def _reusable_vectors(
    previous: SearchIndex | None, model_id: str
) -> dict[str, NDArray[np.float32]]:
    if previous is None or previous.vector_index is None or previous.manifest.model_id != model_id:
        return {}
    stored = previous.vector_index.reconstruct_n(0, previous.vector_index.ntotal)  # type: ignore[attr-defined]
    passages = [p for doc in previous.documents for p in doc.passages]  # the order they were added
    if len(passages) != len(stored):
        return {}
    return dict(zip(passages, stored, strict=True))


def read_manifest(target: Path) -> Manifest | None:
    path = target / "manifest.json"
    if not path.exists():
        return None
    try:
        return Manifest(**json.loads(path.read_text(encoding="utf-8")))
    except (TypeError, ValueError):
        return None


def load_index(target: Path) -> SearchIndex:
    manifest = read_manifest(target)
    if manifest is None:
        raise FileNotFoundError(f"no search index at {target}")
    raw_docs = json.loads((target / "documents.json").read_text(encoding="utf-8"))
    documents = [
        SearchDocument(**{**d, "codes": tuple(d["codes"]), "passages": tuple(d["passages"])})
        for d in raw_docs
    ]
    bm25 = bm25s.BM25.load(str(target / "bm25"))
    vector_index = None
    if (target / "dense.faiss").exists():
        vector_index = _faiss().read_index(str(target / "dense.faiss"))
    owners = np.load(target / "vector_owner.npy")
    accents = AccentRestorer.load(target / "accents.json")
    return SearchIndex(manifest, documents, bm25, vector_index, owners, accents)
