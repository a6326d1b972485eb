"""Asterisk AudioSocket: the TCP protocol of the ``AudioSocket()`` dialplan application and the
``AudioSocket/host:port/uuid`` channel driver.

Every message is ``kind (1 byte) | length (2 bytes, big-endian) | payload``:
0x00 hang-up (no payload), 0x01 the call's UUID (16 bytes), 0x03 a DTMF digit (1 ASCII byte),
0x10 audio (8 kHz 16-bit signed linear mono, little-endian; 320 bytes = 20 ms), 0xff error
(an optional 1-byte code). Asterisk sends nothing while the caller is silent.
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

from voice.frames import AudioIn, CallEnded, CallStarted, DtmfIn, InboundFrame

KIND_HANGUP = 0x00
KIND_UUID = 0x01
KIND_DTMF = 0x03
KIND_AUDIO = 0x10
KIND_ERROR = 0xFF
HEADER = struct.Struct(">BH")
MAX_AUDIO_PAYLOAD = 8000  # 0.5 s of audio: far above any real frame; bigger means garbage
# The largest payload of each kind: checked on the header, so a bogus length is refused before
# its bytes are waited for (and a decoder never holds more than one message and one read).
MAX_PAYLOAD = {
    KIND_HANGUP: 0,
    KIND_UUID: 16,
    KIND_DTMF: 1,
    KIND_AUDIO: MAX_AUDIO_PAYLOAD,
    KIND_ERROR: 1,
}
DTMF_DIGITS = frozenset("0123456789*#ABCD")


class AudioSocketProtocolError(ValueError):
    """The peer sent something that is not AudioSocket; the call is ended, not the server."""


def encode_audio(pcm: bytes) -> bytes:
    return HEADER.pack(KIND_AUDIO, len(pcm)) + pcm


def encode_hangup() -> bytes:
    return HEADER.pack(KIND_HANGUP, 0)


def encode_uuid(call_id: uuid.UUID) -> bytes:
    return HEADER.pack(KIND_UUID, 16) + call_id.bytes


def encode_dtmf(digit: str) -> bytes:
    return HEADER.pack(KIND_DTMF, 1) + digit.encode("ascii")


@dataclass
class AudioSocketDecoder:
    """Incremental decoder: feed whatever TCP delivered, get the complete frames out."""

    buffer: bytearray = field(default_factory=bytearray)
    started: bool = False

    def feed(self, data: bytes) -> Iterator[InboundFrame]:
        self.buffer.extend(data)
        while len(self.buffer) >= HEADER.size:
            kind, length = HEADER.unpack_from(self.buffer)
            if kind not in MAX_PAYLOAD:
                raise AudioSocketProtocolError(f"unknown message kind 0x{kind:02x}")
            if length > MAX_PAYLOAD[kind]:
                raise AudioSocketProtocolError(
                    f"a 0x{kind:02x} message of {length} bytes (at most {MAX_PAYLOAD[kind]})"
                )
            if len(self.buffer) < HEADER.size + length:
                return
            payload = bytes(self.buffer[HEADER.size : HEADER.size + length])
            del self.buffer[: HEADER.size + length]
            yield self._frame(kind, payload)

    def _frame(self, kind: int, payload: bytes) -> InboundFrame:
        if not self.started and kind != KIND_UUID:
            raise AudioSocketProtocolError(f"the first message must be the UUID, got 0x{kind:02x}")
        if kind == KIND_UUID:
            if len(payload) != 16 or self.started:
                raise AudioSocketProtocolError("a UUID message must come first and hold 16 bytes")
            self.started = True
            return CallStarted(str(uuid.UUID(bytes=payload)), transport="audiosocket")
        if kind == KIND_AUDIO:
            if len(payload) % 2:
                raise AudioSocketProtocolError(f"bad audio payload of {len(payload)} bytes")
            return AudioIn(payload)
        if kind == KIND_DTMF:
            digit = payload.decode("ascii", "replace")
            if len(payload) != 1 or digit not in DTMF_DIGITS:
                raise AudioSocketProtocolError(f"bad DTMF payload {payload!r}")
            return DtmfIn(digit)
        if kind == KIND_HANGUP:
            return CallEnded("hangup")
        if kind == KIND_ERROR:
            return CallEnded(f"error:{payload.hex()}" if payload else "error")
        raise AudioSocketProtocolError(f"unknown message kind 0x{kind:02x}")

    def close(self) -> None:
        if self.buffer:
            raise AudioSocketProtocolError(
                f"stream ended inside a message ({len(self.buffer)} bytes)"
            )
