"""The learned ranker: a LightGBM LambdaMART model over ``FEATURE_NAMES``, plus a calibration
that turns its scores into the probability that the top candidate is right."""

from __future__ import annotations

import hashlib
import json
import math
import os
import secrets
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock
from numpy.typing import NDArray

from knowledge_base.ranking.features import FEATURE_NAMES, POPULARITY

MODEL_FILE = "ranker.txt"
META_FILE = "ranker.json"
_MISMATCH_ATTEMPTS = 3


@dataclass
class RankerInfo:
    """What staff see about the model in service."""

    trained_at: str
    examples: int
    queries: int
    sources: dict[str, int]
    cv: dict[str, Any] = field(default_factory=dict)
    # P(top is right) = sigmoid(a * top score + b * margin over the second + c)
    calibration: tuple[float, ...] = (1.0, 1.0, 0.0)
    features: tuple[str, ...] = FEATURE_NAMES


def popularity_column(
    codes: Sequence[tuple[str, ...]], popularity: dict[str, float], own: frozenset[str]
) -> list[float]:
    """log(1 + curated questions about the candidate), not counting ``own`` (a training
    question must not count itself, or the ranker learns that its own answer is popular)."""
    return [
        math.log1p(max((popularity.get(c, 0.0) - (c in own) for c in group), default=0.0))
        for group in codes
    ]


class Ranker:
    def __init__(self, booster: Any, info: RankerInfo, popularity: dict[str, float]) -> None:
        if tuple(info.features) != FEATURE_NAMES:
            raise ValueError("the ranker was trained on other features; retrain it")
        self.booster = booster
        self.info = info
        self.popularity = popularity

    def scores(
        self, features: NDArray[np.float32], codes: Sequence[tuple[str, ...]]
    ) -> NDArray[np.float64]:
        if not len(features):
            return np.zeros(0)
        features = features.copy()
        features[:, POPULARITY] = popularity_column(codes, self.popularity, frozenset())
        return np.asarray(self.booster.predict(features, num_threads=1), dtype=np.float64)

    def confidence(self, ordered_scores: NDArray[np.float64]) -> float:
        """Probability that the first candidate is right: how high it scores (a question about
        nothing in the catalogue scores low everywhere) and how far ahead of the second."""
        if not len(ordered_scores):
            return 0.0
        top = float(ordered_scores[0])
        second = float(ordered_scores[1]) if len(ordered_scores) > 1 else top - 5.0
        a, b, c = self.info.calibration
        return 1.0 / (1.0 + math.exp(-(a * top + b * (top - second) + c)))

    def texts(self) -> tuple[str, str]:
        """The model and its metadata as stored: the metadata names the model's digest."""
        model_text = self.booster.model_to_string()
        meta = {
            **asdict(self.info),
            "popularity": self.popularity,
            "model_sha256": hashlib.sha256(model_text.encode()).hexdigest(),
        }
        return model_text, json.dumps(meta, ensure_ascii=False, indent=1)

    def save(self, folder: Path) -> None:
        write_model_files(folder, *self.texts())


def write_model_files(folder: Path, model_text: str, meta_text: str) -> None:
    """Write beside the live files, then swap each in with an atomic rename: the model first,
    then the metadata that names the model's digest, so a reader between the two renames sees
    a mismatch (and keeps its model) rather than a mixed pair.

    Saves from several processes take turns (a lock file beside the folder): interleaved, one's
    model could stay beside the other's metadata, a pair no worker could load."""
    folder.mkdir(parents=True, exist_ok=True)
    with FileLock(folder.with_name(folder.name + ".lock")):
        for name, text in ((MODEL_FILE, model_text), (META_FILE, meta_text)):
            staging = folder / f".{name}.{os.getpid()}-{secrets.token_hex(4)}"
            try:
                staging.write_text(text, encoding="utf-8")
                staging.replace(folder / name)
            finally:
                staging.unlink(missing_ok=True)


class RankerMismatchError(ValueError):
    """The model file and its metadata come from different trainings (a save in progress)."""


def _booster(text: str) -> Any:
    import lightgbm

    return lightgbm.Booster(model_str=text)


def site_model_stamp(folder: Path | None) -> int | None:
    """Changes whenever a model is saved to ``folder`` (by this or another process)."""
    try:
        return (folder / META_FILE).stat().st_mtime_ns if folder is not None else None
    except FileNotFoundError:
        return None


def load_ranker(folder: Path | None) -> Ranker | None:
    """The model trained for this site (``folder``) if there is one, else the bundled one.

    A pair caught between the two renames of a save is read again once that save is done."""
    attempt = 1
    while True:
        try:
            return _load_ranker(folder)
        except RankerMismatchError:
            if attempt == _MISMATCH_ATTEMPTS:
                raise
        time.sleep(0.05 * attempt)
        attempt += 1


def _load_ranker(folder: Path | None) -> Ranker | None:
    if folder is not None and (folder / MODEL_FILE).exists() and (folder / META_FILE).exists():
        model_text = (folder / MODEL_FILE).read_text(encoding="utf-8")
        meta_text = (folder / META_FILE).read_text(encoding="utf-8")
    else:
        bundled = resources.files("knowledge_base.data")
        if not bundled.joinpath(MODEL_FILE).is_file():
            return None
        model_text = bundled.joinpath(MODEL_FILE).read_text("utf-8")
        meta_text = bundled.joinpath(META_FILE).read_text("utf-8")
    meta = json.loads(meta_text)
    digest = meta.pop("model_sha256", None)
    if digest is not None and digest != hashlib.sha256(model_text.encode()).hexdigest():
        raise RankerMismatchError(f"{folder}: the model and its metadata do not match")
    popularity = meta.pop("popularity", {})
    meta["calibration"] = tuple(meta["calibration"])
    meta["features"] = tuple(meta["features"])
    return Ranker(_booster(model_text), RankerInfo(**meta), popularity)
