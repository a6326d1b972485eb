"""A test double: returns scripted transcripts, one per utterance that held any audio."""

from __future__ import annotations

from collections import deque


class ScriptedStream:
    def __init__(self, transcripts: deque[str]) -> None:
        self._transcripts = transcripts
        self._heard = 0
        self.phrases: list[str] | None = None

    def accept(self, pcm: bytes) -> bool:
        self._heard += len(pcm)
        return False

    def partial(self) -> str:
        return self._transcripts[0] if self._heard and self._transcripts else ""

    def final(self) -> str:
        heard, self._heard = self._heard, 0
        if not heard or not self._transcripts:
            return ""
        return self._transcripts.popleft()

    def set_phrases(self, phrases: list[str] | None) -> None:
        self.phrases = phrases

    def close(self) -> None:
        return None


class ScriptedRecognizer:
    name = "scripted"

    def __init__(self, transcripts: list[str]) -> None:
        self.transcripts: deque[str] = deque(transcripts)
        self.phrase_lists: list[list[str] | None] = []

    def warm_up(self) -> None:
        return None

    def stream(self, phrases: list[str] | None = None) -> ScriptedStream:
        self.phrase_lists.append(phrases)
        return ScriptedStream(self.transcripts)
