"""The two telephony serializers, including what a broken peer sends."""

from __future__ import annotations

import base64
import json
import uuid

import numpy as np
import pytest

from voice.audio import resample, ulaw_decode, ulaw_encode
from voice.frames import AudioIn, AudioOut, CallEnded, CallStarted, ClearAudio, DtmfIn, Mark
from voice.transports.audiosocket import (
    AudioSocketDecoder,
    AudioSocketProtocolError,
    encode_audio,
    encode_dtmf,
    encode_hangup,
    encode_uuid,
)
from voice.transports.media_stream import MediaStreamProtocolError, MediaStreamSerializer

CALL = uuid.UUID("12345678-1234-5678-1234-567812345678")


def test_audiosocket_frames_survive_any_split_of_the_tcp_stream():
    stream = (
        encode_uuid(CALL) + encode_audio(b"\x01\x00" * 160) + encode_dtmf("#") + encode_hangup()
    )
    for cut in range(1, len(stream)):
        decoder = AudioSocketDecoder()
        frames = [*decoder.feed(stream[:cut]), *decoder.feed(stream[cut:])]
        assert frames == [
            CallStarted(str(CALL), transport="audiosocket"),
            AudioIn(b"\x01\x00" * 160),
            DtmfIn("#"),
            CallEnded("hangup"),
        ]
        decoder.close()


@pytest.mark.parametrize(
    ("raw", "complaint"),
    [
        (encode_audio(b"\x00" * 320), "first message must be the UUID"),
        (bytes([0x01, 0x00, 0x03]) + b"abc", "16 bytes"),
        (encode_uuid(CALL) + bytes([0x42, 0x00, 0x00]), "unknown message kind 0x42"),
        (encode_uuid(CALL) + bytes([0x10, 0x00, 0x03]) + b"abc", "bad audio payload"),
        (encode_uuid(CALL) + bytes([0x03, 0x00, 0x01]) + b"x", "bad DTMF"),
        (encode_uuid(CALL) + encode_uuid(CALL), "must come first"),
    ],
)
def test_audiosocket_rejects_malformed_frames(raw, complaint):
    decoder = AudioSocketDecoder()
    with pytest.raises(AudioSocketProtocolError, match=complaint):
        list(decoder.feed(raw))


def test_audiosocket_truncated_stream_is_an_error():
    decoder = AudioSocketDecoder()
    list(decoder.feed(encode_uuid(CALL) + encode_audio(b"\x00" * 320)[:100]))
    with pytest.raises(AudioSocketProtocolError, match="inside a message"):
        decoder.close()


def test_audiosocket_error_frame_ends_the_call():
    decoder = AudioSocketDecoder()
    frames = list(decoder.feed(encode_uuid(CALL) + bytes([0xFF, 0x00, 0x01, 0x02])))
    assert frames[-1] == CallEnded("error:02")


def test_media_stream_round_trip():
    serializer = MediaStreamSerializer()
    start = {"event": "start", "streamSid": "MZ1", "start": {"callSid": "CA1", "streamSid": "MZ1"}}
    assert serializer.decode(json.dumps({"event": "connected"})) is None
    assert serializer.decode(json.dumps(start)) == CallStarted("CA1", "", "media_stream")
    pcm = (np.sin(np.arange(160) / 3) * 8000).astype("<i2")
    media = {"event": "media", "media": {"payload": base64.b64encode(ulaw_encode(pcm)).decode()}}
    frame = serializer.decode(json.dumps(media))
    assert isinstance(frame, AudioIn) and len(frame.pcm) == 320
    assert np.abs(np.frombuffer(frame.pcm, "<i2").astype(int) - pcm).max() < 300
    assert serializer.decode(json.dumps({"event": "dtmf", "dtmf": {"digit": "5"}})) == DtmfIn("5")
    assert serializer.decode(json.dumps({"event": "stop"})) == CallEnded("hangup")
    out = json.loads(serializer.encode(AudioOut(pcm.tobytes())))
    assert out["event"] == "media" and out["streamSid"] == "MZ1"
    assert len(base64.b64decode(out["media"]["payload"])) == 160
    assert json.loads(serializer.encode(ClearAudio())) == {"event": "clear", "streamSid": "MZ1"}
    assert json.loads(serializer.encode(Mark("answer")))["mark"] == {"name": "answer"}


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[1, 2]",
        json.dumps({"event": "media", "media": {"payload": "@@@"}}),
        json.dumps({"event": "dtmf", "dtmf": {"digit": "55"}}),
        json.dumps({"event": "dance"}),
        json.dumps({"event": "start", "start": {}}),
    ],
)
def test_media_stream_rejects_bad_messages(text):
    with pytest.raises(MediaStreamProtocolError):
        MediaStreamSerializer().decode(text)


def test_ulaw_and_resampling_keep_speech_band_audio():
    pcm = (np.sin(np.arange(8000) * 2 * np.pi * 440 / 8000) * 10000).astype(np.int16)
    assert np.abs(ulaw_decode(ulaw_encode(pcm)).astype(int) - pcm).max() < 400
    up = resample(pcm, 8000, 16000)
    back = resample(up, 16000, 8000)
    assert up.size == 16000 and back.size == 8000
    assert np.corrcoef(back[100:-100], pcm[100:-100])[0, 1] > 0.99
