"""WebSocket media streams in the Twilio Media Streams JSON shape, so cloud SIP providers and a
browser "call" button can reach the line.

Inbound: ``connected``, ``start`` (streamSid, callSid, mediaFormat), ``media`` (base64 8 kHz
μ-law), ``dtmf``, ``mark``, ``stop``. Outbound: ``media``, ``mark``, and ``clear`` (barge-in:
the provider drops the audio it has queued).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from voice.audio import pcm_of, ulaw_decode, ulaw_encode
from voice.frames import (
    AudioIn,
    AudioOut,
    CallEnded,
    CallStarted,
    ClearAudio,
    DtmfIn,
    HangUp,
    InboundFrame,
    Mark,
    OutboundFrame,
    Transfer,
)
from voice.transports.audiosocket import DTMF_DIGITS

# A 20 ms media event is about 300 characters; this allows a second of audio in one message.
MAX_MESSAGE_CHARS = 16_000


class MediaStreamProtocolError(ValueError):
    """A message that is not a media-stream event."""


class MediaStreamTooLargeError(MediaStreamProtocolError):
    """A message over ``MAX_MESSAGE_CHARS``."""


@dataclass
class MediaStreamSerializer:
    stream_sid: str = ""

    def decode(self, text: str) -> InboundFrame | None:
        """One WebSocket text message to a frame (None for events the call does not need)."""
        if len(text) > MAX_MESSAGE_CHARS:
            raise MediaStreamTooLargeError(f"a message of {len(text)} characters")
        try:
            message: Any = json.loads(text)
        except json.JSONDecodeError as exc:
            raise MediaStreamProtocolError(f"not JSON: {exc.msg}") from exc
        if not isinstance(message, dict):
            raise MediaStreamProtocolError("a message must be a JSON object")
        event = message.get("event")
        if event == "start":
            start = message.get("start") or {}
            self.stream_sid = str(message.get("streamSid") or start.get("streamSid") or "")
            call_id = str(start.get("callSid") or self.stream_sid)
            if not call_id:
                raise MediaStreamProtocolError("start without callSid or streamSid")
            params = start.get("customParameters") or {}
            return CallStarted(call_id, str(params.get("caller", "")), "media_stream")
        if event == "media":
            payload = (message.get("media") or {}).get("payload", "")
            try:
                ulaw = base64.b64decode(payload, validate=True)
            except (binascii.Error, TypeError) as exc:
                raise MediaStreamProtocolError("media payload is not base64") from exc
            return AudioIn(ulaw_decode(ulaw).astype("<i2").tobytes())
        if event == "dtmf":
            digit = str((message.get("dtmf") or {}).get("digit", ""))
            if digit not in DTMF_DIGITS or len(digit) != 1:
                raise MediaStreamProtocolError(f"bad DTMF digit {digit!r}")
            return DtmfIn(digit)
        if event == "stop":
            return CallEnded("hangup")
        if event in {"connected", "mark"}:
            return None
        raise MediaStreamProtocolError(f"unknown event {event!r}")

    def encode(self, frame: OutboundFrame) -> str | None:
        if isinstance(frame, AudioOut):
            payload = base64.b64encode(ulaw_encode(pcm_of(frame.pcm))).decode("ascii")
            return self._event("media", media={"payload": payload})
        if isinstance(frame, ClearAudio):
            return self._event("clear")
        if isinstance(frame, Mark):
            return self._event("mark", mark={"name": frame.name})
        if isinstance(frame, Transfer):
            # Providers act on a named mark; the outcome endpoint says the same.
            return self._event("mark", mark={"name": f"transfer:{frame.reason}"})
        if isinstance(frame, HangUp):
            return None  # closing the socket ends the stream
        return None

    def _event(self, event: str, **body: Any) -> str:
        return json.dumps({"event": event, "streamSid": self.stream_sid, **body})
