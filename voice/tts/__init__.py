"""Text-to-speech behind one small interface, at the phone's 8 kHz."""

from __future__ import annotations

from typing import Protocol


class SpeechSynthesizer(Protocol):
    name: str

    def warm_up(self) -> None: ...

    def synthesize(self, text: str) -> bytes:
        """8 kHz 16-bit signed linear audio of ``text`` (already normalised for speech).
        Blocking: call it from a worker thread."""
        ...


class SpeechEngineMissingError(RuntimeError):
    """The configured voice cannot run here; the message says what to install."""
