"""Streaming speech-to-text behind one small interface; engines are imported lazily."""

from __future__ import annotations

from typing import Protocol


class RecognitionStream(Protocol):
    """One caller's audio, utterance after utterance. Methods block: call them from a pool."""

    def accept(self, pcm: bytes) -> bool:
        """Feed 8 kHz 16-bit audio; True when the engine itself detected the end of speech."""
        ...

    def partial(self) -> str: ...

    def final(self) -> str:
        """The utterance so far as final text; the stream is then ready for the next one."""
        ...

    def set_phrases(self, phrases: list[str] | None) -> None:
        """Narrow recognition to a phrase list from the next utterance on (None: free speech);
        engines without grammars ignore it."""
        ...

    def close(self) -> None: ...


class SpeechRecognizer(Protocol):
    name: str

    def warm_up(self) -> None:
        """Load the model (once per process)."""
        ...

    def stream(self, phrases: list[str] | None = None) -> RecognitionStream:
        """A stream for one call; ``phrases`` narrows recognition where the engine can."""
        ...


class SpeechModelMissingError(RuntimeError):
    """The configured engine or its model is not installed; the message says what to do."""
