"""The learned ranker: a LightGBM LambdaMART model over ``FEATURE_NAMES``, plus a calibration
that turns its top score into the probability that the top candidate is right."""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from knowledge_base.ranking.features import FEATURE_NAMES

MODEL_FILE = "ranker.txt"
META_FILE = "ranker.json"


@dataclass
class RankerInfo:
    """What staff see about the model in service."""

    trained_at: str
    examples: int
    queries: int
    sources: dict[str, int]
    cv: dict[str, Any] = field(default_factory=dict)
    calibration: tuple[float, float] = (1.0, 0.0)  # P(top is right) = sigmoid(a * margin + b)
    features: tuple[str, ...] = FEATURE_NAMES


class Ranker:
    def __init__(self, booster: Any, info: RankerInfo) -> None:
        if tuple(info.features) != FEATURE_NAMES:
            raise ValueError("the ranker was trained on other features; retrain it")
        self.booster = booster
        self.info = info

    def scores(self, features: NDArray[np.float32]) -> NDArray[np.float64]:
        if not len(features):
            return np.zeros(0)
        return np.asarray(self.booster.predict(features, num_threads=1), dtype=np.float64)

    def confidence(self, ordered_scores: NDArray[np.float64]) -> float:
        """Probability that the first candidate is right, from its margin over the second."""
        if not len(ordered_scores):
            return 0.0
        second = ordered_scores[1] if len(ordered_scores) > 1 else ordered_scores[0] - 5.0
        a, b = self.info.calibration
        return 1.0 / (1.0 + math.exp(-(a * float(ordered_scores[0] - second) + b)))

    def save(self, folder: Path) -> None:
        """Write beside the live files, then swap each in with an atomic rename."""
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in (
            (MODEL_FILE, self.booster.model_to_string()),
            (META_FILE, json.dumps(asdict(self.info), ensure_ascii=False, indent=1)),
        ):
            staging = folder / f".{name}.{os.getpid()}"
            staging.write_text(text, encoding="utf-8")
            staging.replace(folder / name)


def _booster(text: str) -> Any:
    import lightgbm

    return lightgbm.Booster(model_str=text)


def load_ranker(folder: Path | None) -> Ranker | None:
    """The model trained for this site (``folder``) if there is one, else the bundled one."""
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
    meta["calibration"] = tuple(meta["calibration"])
    meta["features"] = tuple(meta["features"])
    return Ranker(_booster(model_text), RankerInfo(**meta))
