"""Publishing the search index while other processes publish and read it: one publisher at a
time across processes, one atomic switch of the ``index`` symlink, readers that never see a mix
of two builds, and only the live version and the one before it left on disk."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import threading
import time
from collections.abc import Callable
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import knowledge_base.retrieval.index as index_module
from knowledge_base.retrieval.documents import SearchDocument
from knowledge_base.retrieval.embedder import HashingEmbedder
from knowledge_base.retrieval.index import SearchIndex, build_index, load_index, publish_lock
from knowledge_base.text.accents import AccentRestorer

PUBLISHES_EACH = 5


def _catalogue(tag: str, size: int) -> list[SearchDocument]:
    """A few documents that all carry ``tag``, so that every file of a build names its build."""
    return [
        SearchDocument(
            f"procedure:{tag}.{n}",
            "procedure",
            f"Thủ tục mẫu {tag} số {n}",
            (f"{tag}.{n}",),
            f"thủ tục mẫu {tag} số {n} đăng ký khai sinh",
            (f"thủ tục mẫu {tag} số {n}",),
        )
        for n in range(size)
    ]


def _build(tag: str, target: Path, size: int = 2) -> SearchIndex:
    return build_index(_catalogue(tag, size), HashingEmbedder(), target)


def _tag_of(index: SearchIndex) -> str:
    """The build every loaded file comes from; fails when two builds are mixed."""
    tags = {doc.codes[0].split(".")[0] for doc in index.documents}
    assert len(tags) == 1, tags
    tag = tags.pop()
    passages = [p for doc in index.documents for p in doc.passages]
    assert index.manifest.documents == len(index.documents) == index.bm25.scores["num_docs"]
    assert tag in index.bm25.vocab_dict
    assert tag in index.accents._unigrams
    vectors: Any = index.vector_index  # a faiss index
    assert vectors is not None
    stored = vectors.reconstruct_n(0, vectors.ntotal)
    assert np.allclose(stored, HashingEmbedder().embed_passages(passages))
    assert list(index.vector_owner) == list(range(len(index.documents)))
    return tag


def _versions(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("index-"))


def _leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if ".building" in p.name or ".link-" in p.name]


def _publish_many(target: str, tag: str, ready: Barrier) -> None:
    """A publisher process: several builds of different sizes, as soon as the test lets go."""
    _build("warm", Path(target).parent / f"warm-{tag}" / "index")  # first-use costs, elsewhere
    ready.wait(60)
    for n in range(PUBLISHES_EACH):
        _build(f"{tag}{n}", Path(target), size=1 + (n + len(tag)) % 3)


class Reader:
    """Loads the index in a loop on a thread until stopped, checking every load."""

    def __init__(self, target: Path) -> None:
        self.target = target
        self.tags: list[str] = []
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.001):  # leaves the publishers some of the machine
            try:
                self.tags.append(_tag_of(load_index(self.target)))
            except BaseException as exc:
                self.errors.append(exc)

    def wait_for(self, tag: str) -> None:
        deadline = time.monotonic() + 30
        while tag not in self.tags[-5:] and time.monotonic() < deadline:
            time.sleep(0.005)

    def __enter__(self) -> Reader:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)


def test_two_processes_publish_at_once_while_a_reader_loads(tmp_path):
    target = tmp_path / "index"
    _build("start", target)
    # fresh interpreters, not forks of this threaded one; the server imports this module (and
    # the indexing code) once for both publishers
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    ready = context.Barrier(3)
    publishers = [
        context.Process(target=_publish_many, args=(str(target), tag, ready)) for tag in ("a", "bb")
    ]
    for process in publishers:
        process.start()
    with Reader(target) as reader:
        with publish_lock(target):  # both publishers start while this process holds the lock
            ready.wait(60)
            time.sleep(0.2)
            assert _tag_of(load_index(target)) == "start"  # neither could publish meanwhile
        for process in publishers:
            process.join(60)
        reader.wait_for(_tag_of(load_index(target)))
    assert [p.exitcode for p in publishers] == [0, 0]
    assert not reader.errors, reader.errors[:3]
    published = {f"{tag}{n}" for tag in ("a", "bb") for n in range(PUBLISHES_EACH)}
    assert len(reader.tags) > 10 and set(reader.tags) <= published | {"start"}
    assert _tag_of(load_index(target)) in {f"a{PUBLISHES_EACH - 1}", f"bb{PUBLISHES_EACH - 1}"}
    live = Path(os.path.realpath(target)).name
    assert target.is_symlink() and live in _versions(tmp_path)
    assert len(_versions(tmp_path)) == 2  # the live version and the one it replaced
    assert not _leftovers(tmp_path)


def _broken(*args: object, **kwargs: object) -> None:
    raise OSError("disk full")


@pytest.mark.parametrize(
    "breaks",
    [
        pytest.param(lambda mp: mp.setattr(AccentRestorer, "save", _broken), id="writing"),
        pytest.param(lambda mp: mp.setattr(Path, "symlink_to", _broken), id="switching"),
    ],
)
def test_a_failed_build_leaves_the_live_index_and_no_staging_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, breaks: Callable[[pytest.MonkeyPatch], None]
) -> None:
    target = tmp_path / "index"
    _build("one", target)
    _build("two", target)
    before = (os.readlink(target), sorted(os.listdir(tmp_path)))
    breaks(monkeypatch)
    with pytest.raises(OSError, match="disk full"):
        _build("three", target)
    monkeypatch.undo()
    assert (os.readlink(target), sorted(os.listdir(tmp_path))) == before
    assert _tag_of(load_index(target)) == "two"
    assert not _leftovers(tmp_path)


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2", "two-renames"])
def test_an_index_in_a_plain_folder_is_upgraded_while_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exchange: bool
) -> None:
    target = tmp_path / "index"
    _build("legacy", tmp_path / "elsewhere")
    shutil.copytree(os.path.realpath(tmp_path / "elsewhere"), target)  # as an older release left it
    (tmp_path / "index.old").mkdir()  # and its fixed staging folders
    (tmp_path / "index.building").mkdir()
    assert _tag_of(load_index(target)) == "legacy"  # a plain folder still reads
    if not exchange:
        monkeypatch.setattr(index_module, "_exchange", lambda first, second: False)
        replace = Path.replace

        def paused_replace(self: Path, other: Path) -> Path:
            time.sleep(0.3)  # a busy machine pausing the publisher between its two renames
            return replace(self, other)

        monkeypatch.setattr(Path, "replace", paused_replace)
    with Reader(target) as reader:
        reader.wait_for("legacy")
        _build("new", target)
        reader.wait_for("new")
    assert not reader.errors, reader.errors[:3]
    assert set(reader.tags) == {"legacy", "new"}
    assert target.is_symlink() and _tag_of(load_index(target)) == "new"
    assert len(_versions(tmp_path)) == 2  # the old folder is kept, as the previous version
    assert not (tmp_path / "index.old").exists() and not _leftovers(tmp_path)
    _build("newer", target)
    live = Path(os.path.realpath(target)).name
    (previous,) = [name for name in _versions(tmp_path) if name != live]
    assert _tag_of(load_index(tmp_path / previous)) == "new"  # the legacy folder is gone


def test_a_worker_that_waited_for_the_lock_loads_what_the_other_published(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from knowledge_base import service
    from knowledge_base.db import session_scope
    from knowledge_base.models import CurationStatus, FaqEntry
    from tests.conftest import make_settings

    first = service.KnowledgeBase(make_settings(tmp_path))
    first.warm_up()
    second = service.KnowledgeBase(first.settings)  # another worker process on the same site
    second.warm_up()
    built: list[str] = []

    def counting(*args: Any, **kwargs: Any) -> SearchIndex:
        built.append(threading.current_thread().name)
        return build_index(*args, **kwargs)

    monkeypatch.setattr(service, "build_index", counting)
    with session_scope(first.engine) as session:
        session.add(
            FaqEntry(
                questions=["Bộ phận một cửa có làm việc thứ bảy không?"],
                answer="Có, sáng thứ bảy.",
                status=CurationStatus.PUBLISHED,
            )
        )
    with publish_lock(first.index_dir):
        waiting = threading.Thread(target=second.refresh_index, name="second")
        waiting.start()
        time.sleep(0.2)
        assert waiting.is_alive()  # it waits for the lock
        assert first.refresh_index().ok  # the holder publishes the change
    waiting.join(30)
    assert built == ["MainThread"]  # the second found the index up to date
    assert second.searcher.index.manifest == first.searcher.index.manifest
    # and a worker that was not publishing follows a new version through the symlink
    first.ensure_index(force=True)
    monkeypatch.setattr(service, "INDEX_CHECK_INTERVAL_S", -1.0)
    assert second.searcher.index.manifest == first.searcher.index.manifest
