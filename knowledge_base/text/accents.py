"""Diacritic restoration for accent-free input ("lam giay khai sinh" → "làm giấy khai sinh").

Citizens often type without accents. The lexical index folds accents anyway, but the multilingual
embedding model does not understand folded Vietnamese, so the dense query needs its accents
back. A syllable-bigram language model trained on the catalogue's own text (plus a list of
everyday question phrasing) picks, with Viterbi decoding, the accented spelling of each folded
syllable.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from importlib import resources
from pathlib import Path

from knowledge_base.text.normalize import _fold_syllable, normalize_text

_SENTENCE_SPLIT_RE = re.compile(r"[.,;:!?()\[\]\"'“”\n/\-–]+")
_TOKEN_RE = re.compile(r"[^\W_]+")
_INTERPOLATION = 0.8
_FLOOR = 1e-9


def builtin_phrases() -> list[str]:
    raw = resources.files("knowledge_base.data").joinpath("question_phrases.txt").read_text("utf-8")
    return [line for line in raw.splitlines() if line and not line.startswith("#")]


class AccentRestorer:
    """Bigram Viterbi decoder from folded syllables to their most likely accented spelling."""

    def __init__(self) -> None:
        self._unigrams: Counter[str] = Counter()
        self._bigrams: Counter[tuple[str, str]] = Counter()
        self._candidates: dict[str, list[str]] = {}
        self._total = 1

    def fit(self, texts: Iterable[str]) -> AccentRestorer:
        candidates: defaultdict[str, set[str]] = defaultdict(set)
        for text in [*texts, *builtin_phrases()]:
            for sentence in _SENTENCE_SPLIT_RE.split(normalize_text(text)):
                words = _TOKEN_RE.findall(sentence)
                self._unigrams.update(words)
                self._bigrams.update(zip(["<s>", *words], words, strict=False))
                for word in words:
                    candidates[_fold_syllable(word)].add(word)
        self._unigrams["<s>"] = 1
        self._total = max(1, sum(self._unigrams.values()))
        self._candidates = {
            folded: sorted(words, key=lambda w: -self._unigrams[w])
            for folded, words in candidates.items()
        }
        return self

    def _log_prob(self, prev: str, word: str) -> float:
        unigram = self._unigrams[word] / self._total
        prev_count = self._unigrams[prev]
        bigram = self._bigrams[(prev, word)] / prev_count if prev_count else 0.0
        return math.log(_INTERPOLATION * bigram + (1 - _INTERPOLATION) * unigram + _FLOOR)

    def restore(self, text: str) -> str:
        """Restore accents word by word; syllables that already carry accents are kept."""
        text = normalize_text(text)
        decoded = iter(self._decode(_TOKEN_RE.findall(text)))
        return _TOKEN_RE.sub(lambda _: next(decoded), text)

    def _decode(self, words: list[str]) -> list[str]:
        if not words:
            return []
        lattice = [
            [w] if _fold_syllable(w) != w else self._candidates.get(w, [w])[:8] for w in words
        ]
        # best[i][cand] = (score, backpointer)
        best: list[dict[str, tuple[float, str]]] = [
            {cand: (self._log_prob("<s>", cand), "") for cand in lattice[0]}
        ]
        for position in range(1, len(words)):
            column: dict[str, tuple[float, str]] = {}
            for cand in lattice[position]:
                column[cand] = max(
                    (score + self._log_prob(prev, cand), prev)
                    for prev, (score, _) in best[-1].items()
                )
            best.append(column)
        word = max(best[-1], key=lambda c: best[-1][c][0])
        decoded = [word]
        for position in range(len(words) - 1, 0, -1):
            word = best[position][word][1]
            decoded.append(word)
        return decoded[::-1]

    def save(self, path: Path) -> None:
        payload = {
            "unigrams": dict(self._unigrams),
            "bigrams": [[a, b, n] for (a, b), n in self._bigrams.items()],
        }
        path.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> AccentRestorer:
        payload = json.loads(path.read_text(encoding="utf-8"))
        restorer = cls()
        restorer._unigrams = Counter(payload["unigrams"])
        restorer._bigrams = Counter({(a, b): n for a, b, n in payload["bigrams"]})
        restorer._total = max(1, sum(restorer._unigrams.values()))
        candidates: defaultdict[str, list[str]] = defaultdict(list)
        for word in restorer._unigrams:
            candidates[_fold_syllable(word)].append(word)
        restorer._candidates = {
            folded: sorted(words, key=lambda w: -restorer._unigrams[w])
            for folded, words in candidates.items()
        }
        return restorer
