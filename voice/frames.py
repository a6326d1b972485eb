"""Typed frames between a telephony transport and the call: every protocol is turned into these,
so the call logic is written once."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CallStarted:
    call_id: str  # AudioSocket's UUID or the media stream's callSid: the dialogue sender id
    caller: str = ""
    transport: str = ""


@dataclass(frozen=True)
class AudioIn:
    pcm: bytes  # 8 kHz 16-bit signed linear, little-endian, usually 20 ms


@dataclass(frozen=True)
class DtmfIn:
    digit: str  # 0-9, *, #, A-D


@dataclass(frozen=True)
class CallEnded:
    reason: str = "hangup"  # hangup | error | transport_closed


@dataclass(frozen=True)
class AudioOut:
    pcm: bytes  # 8 kHz 16-bit signed linear, 20 ms


@dataclass(frozen=True)
class ClearAudio:
    """Barge-in: drop everything queued for playback now."""


@dataclass(frozen=True)
class Mark:
    """Reached when the audio queued before it has been played."""

    name: str


@dataclass(frozen=True)
class Transfer:
    """Hand the caller to a person (after the announcement has been played)."""

    reason: str = "caller_asked"


@dataclass(frozen=True)
class HangUp:
    reason: str = "completed"


InboundFrame = CallStarted | AudioIn | DtmfIn | CallEnded
OutboundFrame = AudioOut | ClearAudio | Mark | Transfer | HangUp
