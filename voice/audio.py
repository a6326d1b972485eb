"""Phone audio helpers: G.711 μ-law, resampling, energy, 20 ms framing (numpy only)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import numpy.typing as npt

PHONE_RATE = 8000
FRAME_MS = 20
FRAME_SAMPLES = PHONE_RATE * FRAME_MS // 1000  # 160
FRAME_BYTES = FRAME_SAMPLES * 2  # 320 bytes of 16-bit signed linear
Pcm = npt.NDArray[np.int16]

_BIAS = 0x84
_CLIP = 32635


def _ulaw_table() -> npt.NDArray[np.int16]:
    codes = ~np.arange(256, dtype=np.uint8)
    sign = codes & 0x80
    exponent = (codes >> 4) & 0x07
    mantissa = codes & 0x0F
    magnitude = ((mantissa.astype(np.int32) << 3) + _BIAS) << exponent.astype(np.int32)
    return np.where(sign != 0, _BIAS - magnitude, magnitude - _BIAS).astype(np.int16)


_ULAW_DECODE = _ulaw_table()


def ulaw_decode(data: bytes) -> Pcm:
    return _ULAW_DECODE[np.frombuffer(data, dtype=np.uint8)]


def ulaw_encode(pcm: Pcm) -> bytes:
    samples = pcm.astype(np.int32)
    sign = np.where(samples < 0, 0x80, 0).astype(np.int32)
    magnitude = np.minimum(np.abs(samples), _CLIP) + _BIAS
    exponent = np.floor(np.log2(magnitude)).astype(np.int32) - 7
    exponent = np.clip(exponent, 0, 7)
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    encoded: bytes = (~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8).tobytes()
    return encoded


@lru_cache(maxsize=16)
def _lowpass(cutoff: float, taps: int = 63) -> npt.NDArray[np.float64]:
    """Windowed-sinc low-pass; ``cutoff`` as a fraction of the sampling rate."""
    n = np.arange(taps) - (taps - 1) / 2
    kernel = np.sinc(2 * cutoff * n) * np.hamming(taps)
    return np.asarray(kernel / kernel.sum())


def resample(pcm: Pcm, source_rate: int, target_rate: int) -> Pcm:
    """Band-limited resampling good enough for speech (anti-alias filter, then interpolation)."""
    if source_rate == target_rate or pcm.size == 0:
        return pcm
    samples = pcm.astype(np.float64)
    if target_rate < source_rate:
        samples = np.convolve(samples, _lowpass(0.5 * target_rate / source_rate * 0.9), "same")
    count = round(pcm.size * target_rate / source_rate)
    positions = np.arange(count) * (source_rate / target_rate)
    out = np.interp(positions, np.arange(pcm.size), samples)
    resampled: Pcm = np.clip(np.round(out), -32768, 32767).astype(np.int16)
    return resampled


def rms_dbfs(pcm: Pcm) -> float:
    if pcm.size == 0:
        return -120.0
    power = float(np.mean(pcm.astype(np.float64) ** 2))
    return float(10 * np.log10(max(power, 1e-12) / 32768.0**2))


def frames_of(pcm: Pcm) -> list[bytes]:
    """20 ms frames of 8 kHz audio, the last one padded with silence."""
    data = pcm.astype("<i2").tobytes()
    if len(data) % FRAME_BYTES:
        data += b"\x00" * (FRAME_BYTES - len(data) % FRAME_BYTES)
    return [data[i : i + FRAME_BYTES] for i in range(0, len(data), FRAME_BYTES)]


def pcm_of(data: bytes) -> Pcm:
    return np.frombuffer(data[: len(data) - len(data) % 2], dtype="<i2").astype(np.int16)
