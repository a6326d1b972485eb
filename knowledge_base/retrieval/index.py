"""Build, persist and load the search index (BM25 + faiss + accent model + manifest).

On disk the index path (``data_dir/index``) is a symlink to one version folder
(``index-<time>-<random>``). A publish builds in a staging folder of its own, renames it to a
new version and repoints the link with one atomic rename, all under a lock file shared by every
process; readers resolve the link once and read every file from that one version.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import re
import secrets
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import bm25s
import numpy as np
from filelock import FileLock, Timeout
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
    build_id: str = ""  # unique per build; older indexes have none

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


# How long a reader waits out a publish's switch: the gap between two renames where a file
# system lacks RENAME_EXCHANGE, or a version removed while it was read. Bounded by time, not by
# tries, so a busy machine that pauses the publisher between its two steps does not fail readers.
_LOAD_RETRY_S = 2.0
_STAMP = "%Y%m%dT%H%M%S"
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
_PUBLISH_LOCKS: dict[str, tuple[threading.RLock, FileLock]] = {}
_PUBLISH_LOCKS_GUARD = threading.Lock()


@contextmanager
def publish_lock(target: Path) -> Iterator[None]:
    """One publisher of ``target`` at a time: across processes through ``<target>.lock``, and
    across the threads of this process; the thread that holds it may take it again."""
    target.parent.mkdir(parents=True, exist_ok=True)
    path = str(target.with_name(target.name + ".lock").resolve())
    with _PUBLISH_LOCKS_GUARD:
        if path not in _PUBLISH_LOCKS:
            _PUBLISH_LOCKS[path] = (threading.RLock(), FileLock(path))
        thread_lock, file_lock = _PUBLISH_LOCKS[path]
    with thread_lock:
        try:
            file_lock.acquire(timeout=0)
        except Timeout:
            logger.info("index.lock_waiting", extra={"lock": path})
            file_lock.acquire()
        try:
            yield
        finally:
            file_lock.release()


def build_index(
    documents: list[SearchDocument],
    embedder: Embedder | None,
    target: Path,
    batch_size: int = 32,
    progress: bool = False,
    previous: SearchIndex | None = None,
) -> SearchIndex:
    """Build a new version and switch ``target`` to it in one step: readers see the old index or
    the new one, never a mix or nothing, and a failed build leaves the old one live.

    Passage vectors of ``previous`` (same model) are reused, so that publishing one FAQ entry
    embeds one entry, not the whole catalogue.
    """
    started = time.time()
    with publish_lock(target):
        _remove_leftovers(target)
        staging = target.with_name(f"{target.name}.building-{secrets.token_hex(6)}")
        staging.mkdir()
        try:
            index = _write_index(documents, embedder, staging, batch_size, progress, previous)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        version, replaced = _publish(staging, target, index.manifest.build_id)
        removed = _prune_versions(target, keep={version, replaced})
    logger.info(
        "index.published",
        extra={
            "version": version,
            "replaced": replaced,
            "removed": removed,
            "documents": index.manifest.documents,
            "vectors": index.manifest.vectors,
            "seconds": time.time() - started,
        },
    )
    return index


def _write_index(
    documents: list[SearchDocument],
    embedder: Embedder | None,
    staging: Path,
    batch_size: int,
    progress: bool,
    previous: SearchIndex | None,
) -> SearchIndex:
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
        build_id=secrets.token_hex(4),
    )
    (staging / "manifest.json").write_text(json.dumps(asdict(manifest)), encoding="utf-8")

    return SearchIndex(manifest, documents, bm25, vector_index, owner_array, accents)


def _version_path(target: Path, build_id: str) -> Path:
    return target.with_name(f"{target.name}-{time.strftime(_STAMP)}-{build_id}")


def _is_version(target: Path, name: str) -> bool:
    pattern = rf"{re.escape(target.name)}-\d{{8}}T\d{{6}}-[0-9a-f]{{8}}"
    return re.fullmatch(pattern, name) is not None


def _live_version(target: Path) -> str | None:
    """The name of the version folder ``target`` links to, if it is one beside it."""
    if not target.is_symlink():
        return None
    resolved = Path(os.path.realpath(target))
    beside = resolved.parent == Path(os.path.realpath(target.parent))
    return resolved.name if beside and _is_version(target, resolved.name) else None


def _publish(staging: Path, target: Path, build_id: str) -> tuple[str, str | None]:
    """Rename the finished staging folder to a version and point ``target`` at it; return the
    names of the new version and of the one it replaced."""
    replaced = _live_version(target)
    version = _version_path(target, build_id)
    staging.rename(version)
    link = target.with_name(f"{target.name}.link-{secrets.token_hex(6)}")
    try:
        link.symlink_to(version.name)  # relative: the data folder may be mounted elsewhere
        if target.is_dir() and not target.is_symlink():
            return version.name, _retire_plain_folder(target, link)
        link.replace(target)
    except BaseException:
        if link.is_symlink():
            link.unlink()
        shutil.rmtree(version, ignore_errors=True)
        raise
    return version.name, replaced


def _retire_plain_folder(target: Path, link: Path) -> str:
    """Upgrade from a release that kept the index in a plain folder: put the link in its place
    and keep the folder, as a version, for the readers still loading it."""
    legacy = _version_path(target, secrets.token_hex(4))
    if _exchange(link, target):
        try:
            link.rename(legacy)  # ``link`` now names the old folder
        except OSError:  # the next publish removes it as a leftover
            logger.warning("index.upgrade_leftover", extra={"folder": link.name})
    else:  # a reader may find no index between these two renames, and then retries
        target.rename(legacy)
        try:
            link.replace(target)
        except BaseException:
            legacy.rename(target)
            raise
    logger.info("index.upgraded", extra={"legacy": legacy.name})
    return legacy.name


def _exchange(first: Path, second: Path) -> bool:
    """Swap two paths in one atomic step (Linux renameat2); False where it is not available,
    e.g. on a file system without RENAME_EXCHANGE."""
    if sys.platform != "linux":
        return False
    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if renameat2 is None:
        return False
    done = renameat2(
        _AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE
    )
    return bool(done == 0)


def _prune_versions(target: Path, keep: set[str | None]) -> list[str]:
    """Remove every version but the live one and the one it replaced, which a reader may still
    be loading."""
    removed = []
    for entry in target.parent.iterdir():
        if _is_version(target, entry.name) and entry.name not in keep and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry.name)
    return removed


def _remove_leftovers(target: Path) -> None:
    """Staging folders and links of builds that died, and the fixed staging folders of older
    releases: called under the publish lock, so no build is using them."""
    prefixes = (f"{target.name}.building-", f"{target.name}.link-")
    fixed = {f"{target.name}.building", f"{target.name}.old"}
    for entry in target.parent.iterdir():
        if entry.name in fixed or entry.name.startswith(prefixes):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)


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
    """Load the version ``target`` links to, every file from that one folder.

    A version is removed once a second publish has replaced it: a reader that slow starts again
    from the link. So does one that was reading a plain folder (an index from an older release)
    when the first publish put the link in its place.
    """
    deadline = time.monotonic() + _LOAD_RETRY_S
    attempt = 1
    while True:
        plain = not target.is_symlink()
        folder = Path(os.path.realpath(target))
        try:
            index = _load_folder(folder)
        except Exception:
            moved = Path(os.path.realpath(target)) != folder or not folder.exists()
            if not moved or time.monotonic() >= deadline:
                raise
        else:
            if not (plain and target.is_symlink()):
                return index
            if time.monotonic() >= deadline:
                raise ValueError(f"{target}: the index was upgraded while it was loaded")
        logger.info("index.load_retried", extra={"folder": folder.name, "attempt": attempt})
        time.sleep(min(0.01 * attempt, 0.1))
        attempt += 1


def _load_folder(folder: Path) -> SearchIndex:
    manifest = read_manifest(folder)
    if manifest is None:
        raise FileNotFoundError(f"no search index at {folder}")
    raw_docs = json.loads((folder / "documents.json").read_text(encoding="utf-8"))
    documents = [
        SearchDocument(**{**d, "codes": tuple(d["codes"]), "passages": tuple(d["passages"])})
        for d in raw_docs
    ]
    bm25 = bm25s.BM25.load(str(folder / "bm25"))
    vector_index = None
    if (folder / "dense.faiss").exists():
        vector_index = _faiss().read_index(str(folder / "dense.faiss"))
    owners = np.load(folder / "vector_owner.npy")
    accents = AccentRestorer.load(folder / "accents.json")
    vectors = vector_index.ntotal if vector_index is not None else 0
    if (manifest.documents, manifest.vectors, vectors) != (
        len(documents),
        len(owners),
        len(owners),
    ):
        raise ValueError(f"{folder}: the index files do not belong together")
    return SearchIndex(manifest, documents, bm25, vector_index, owners, accents)
