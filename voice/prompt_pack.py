"""Recorded prompt packs: a folder with one WAV file per prompt id (``greeting.wav``,
``menu.wav`` …) recorded by a person, played instead of the synthetic voice for those prompts.

Any PCM WAV is taken (8 to 32-bit, mono or stereo, any sample rate) and converted to the line's
8 kHz mono once, at load. A file that cannot be used is logged and its prompt is synthesised.
"""

from __future__ import annotations

import logging
import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt

from voice.audio import PHONE_RATE, resample

logger = logging.getLogger(__name__)
MAX_PROMPT_S = 120.0  # longer is not a prompt: a wrong file
MIN_RATE, MAX_RATE = 8000, 192_000


class PromptFileError(ValueError):
    """A prompt recording that cannot be played; the message says why."""


def _samples(raw: bytes, width: int) -> npt.NDArray[np.float64]:
    """Signed samples scaled to 16 bits, whatever the stored width."""
    if width == 1:  # 8-bit WAV is unsigned
        return (np.frombuffer(raw, dtype=np.uint8).astype(np.float64) - 128.0) * 256.0
    if width == 2:
        return np.frombuffer(raw, dtype="<i2").astype(np.float64)
    if width == 3:
        bytes3 = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        value = bytes3[:, 0] | (bytes3[:, 1] << 8) | (bytes3[:, 2] << 16)
        value = np.where(value >= 1 << 23, value - (1 << 24), value)
        return value.astype(np.float64) / 256.0
    if width == 4:
        return np.frombuffer(raw, dtype="<i4").astype(np.float64) / 65536.0
    raise PromptFileError(f"unsupported sample width of {width} bytes")


def read_prompt_wav(path: Path) -> bytes:
    """8 kHz mono 16-bit audio of a PCM WAV file; ``PromptFileError`` when it is not usable."""
    try:
        with wave.open(str(path), "rb") as wav:
            channels, width, rate = wav.getnchannels(), wav.getsampwidth(), wav.getframerate()
            frames = wav.getnframes()
            if not MIN_RATE <= rate <= MAX_RATE:
                raise PromptFileError(f"sample rate {rate} Hz")
            if frames / rate > MAX_PROMPT_S:
                raise PromptFileError(f"{frames / rate:.0f} s long")
            raw = wav.readframes(frames)
    except (wave.Error, EOFError) as exc:  # float or compressed WAV, a truncated header
        raise PromptFileError(f"not a PCM WAV file ({exc})") from exc
    usable = len(raw) - len(raw) % (width * channels)
    if usable == 0:
        raise PromptFileError("no audio in the file")
    samples = _samples(raw[:usable], width).reshape(-1, channels).mean(axis=1)
    pcm = np.clip(np.round(samples), -32768, 32767).astype(np.int16)
    return resample(pcm, rate, PHONE_RATE).astype("<i2").tobytes()


def prompt_files(directory: Path) -> dict[str, Path]:
    """Prompt id → its file in a pack folder (``greeting.wav``, ``menu.WAV`` …)."""
    return {p.stem: p for p in sorted(directory.iterdir()) if p.suffix.lower() == ".wav"}


def load_prompt_pack(directory: Path, prompts: dict[str, str]) -> dict[str, bytes]:
    """Prompt id → 8 kHz audio for every usable ``<id>.wav`` in ``directory``. Blocking (file
    reads): call it while the worker starts, never on the event loop."""
    if not directory.is_dir():
        logger.warning("voice.prompt_pack_missing", extra={"directory": str(directory)})
        return {}
    files = prompt_files(directory)
    recorded: dict[str, bytes] = {}
    for prompt_id in prompts:
        path = files.get(prompt_id)
        if path is None:
            continue
        try:
            recorded[prompt_id] = read_prompt_wav(path)
        except (PromptFileError, OSError) as exc:
            logger.warning(
                "voice.prompt_rejected",
                extra={"prompt_id": prompt_id, "path": str(path), "error": str(exc)},
            )
    unknown = sorted(set(files) - set(prompts))
    if unknown:  # a typo in a file name would otherwise go unnoticed
        logger.warning("voice.prompt_unknown_files", extra={"files": unknown})
    logger.info(
        "voice.prompt_pack",
        extra={
            "directory": str(directory),
            "recorded": sorted(recorded),
            "synthesised": sorted(set(prompts) - set(recorded)),
        },
    )
    return recorded
