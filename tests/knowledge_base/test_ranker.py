"""The learned ranker: deterministic training, saving and loading, the model swap and the
refusal of a worse model, and its use on the sample catalogue."""

from __future__ import annotations

import numpy as np
import pytest

from knowledge_base.ranking.features import FEATURE_NAMES
from knowledge_base.ranking.model import Ranker, load_ranker
from knowledge_base.ranking.pipeline import may_replace, retrain, typed_without_accents
from knowledge_base.ranking.training import Example, QueryRows, fit_ranker


def _rows(seed: int, queries: int = 60) -> list[QueryRows]:
    """Made-up candidate lists in which the first feature tells the relevant one."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(queries):
        features = rng.random((30, len(FEATURE_NAMES))).astype(np.float32)
        labels = np.zeros(30, dtype=np.int32)
        best = int(np.argmax(features[:, 0]))
        labels[best] = 1
        rows.append(QueryRows(features, labels, [(str(i),) for i in range(30)], True))
    return rows


def _ranker(cv_recall: float | None, seed: int = 1) -> Ranker:
    ranker = fit_ranker(_rows(seed), seed=3, rounds=20)
    if cv_recall is not None:
        ranker.info.cv = {"recall@1": cv_recall}
    return ranker


def test_training_is_deterministic_with_a_fixed_seed():
    first = fit_ranker(_rows(1), seed=3, rounds=30).booster.model_to_string()
    second = fit_ranker(_rows(1), seed=3, rounds=30).booster.model_to_string()
    assert first == second


def test_the_model_learns_what_the_labels_say():
    model = fit_ranker(_rows(1, 120), seed=3, rounds=60)
    test = _rows(2, 40)
    right = sum(
        int(np.argmax(model.scores(r.features, r.codes))) == int(np.argmax(r.labels)) for r in test
    )
    assert right >= 25  # chance would be 1 or 2 of 40


def test_save_and_load_round_trip(tmp_path):
    ranker = _ranker(0.5)
    ranker.save(tmp_path)
    loaded = load_ranker(tmp_path)
    assert loaded is not None and loaded.info.cv == {"recall@1": 0.5}
    features = _rows(5, 1)[0].features
    codes = [(str(i),) for i in range(len(features))]
    assert np.allclose(loaded.scores(features, codes), ranker.scores(features, codes))
    assert not list(tmp_path.glob(".*"))  # no staging file left behind


def test_a_worse_model_is_refused_with_the_reason():
    accepted, message = may_replace(_ranker(0.7), _ranker(0.6))
    assert not accepted and "0.600" in message and "0.700" in message
    assert may_replace(_ranker(0.6), _ranker(0.7))[0]
    assert may_replace(None, _ranker(None))[0]


SAMPLE_EXAMPLES = [
    Example("làm giấy khai sinh cho con", ("1.001193",), "test"),
    Example("dang ky khai sinh o dau", ("1.001193",), "test"),
    Example("đăng ký kết hôn cần gì", ("1.000894",), "test"),
    Example("dang ky ket hon mat bao lau", ("1.000894",), "test"),
    Example("xin phiếu lý lịch tư pháp", ("3.000330",), "test"),
    Example("ly lich tu phap bao lau", ("3.000330",), "test"),
    Example("sang tên sổ đỏ", ("1.013831",), "test"),
    Example("đổi bằng lái xe ô tô", ("3.000347",), "test"),
    Example("chứng thực bản sao giấy tờ", ("2.000815",), "test"),
    Example("nhập hộ khẩu cho vợ", ("1.004222",), "test"),
    Example("nhap ho khau cho con", ("1.004222",), "test"),
    Example("công chứng bản photo", ("2.000815",), "test"),
]


@pytest.mark.slow
def test_retrain_on_the_sample_catalogue_writes_a_model_with_figures(sample_kb, tmp_path):
    report = retrain(sample_kb, SAMPLE_EXAMPLES, folds=3, output=tmp_path)
    assert report.accepted
    assert report.info.sources["test"] == len(SAMPLE_EXAMPLES)
    assert report.info.sources["synthetic"] >= 40
    assert 0.0 <= report.info.cv["recall@1"] <= 1.0 and len(report.info.cv["folds"]) == 3
    served = load_ranker(tmp_path)
    assert served is not None and served.info.trained_at == report.info.trained_at


def test_a_fixed_third_of_asked_questions_is_learnt_without_accents():
    asked = [Example(f"làm căn cước lần {i} ở đâu", ("1.014061",), "staff") for i in range(300)]
    chosen = [e for e in asked if typed_without_accents(e)]
    assert 70 < len(chosen) < 130  # about a third
    assert chosen == [e for e in reversed(asked) if typed_without_accents(e)][::-1]  # by text
    assert not typed_without_accents(Example("lam can cuoc o dau", ("1.014061",), "staff"))
    assert not typed_without_accents(Example("làm căn cước", ("1.014061",), "synthetic"))
