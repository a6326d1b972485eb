"""What the line says: Vietnamese numbers, amounts, dates, codes and abbreviations; answers
shortened for the ear; short spoken replies; the end-of-utterance detector."""

from __future__ import annotations

import numpy as np
import pytest

from voice import prompts
from voice.audio import frames_of
from voice.call import keypad_dossier_code
from voice.tts.speech_text import SpeechStyle, number_words, speech_text
from voice.vad import EndpointDetector, VadEvent


@pytest.mark.parametrize(
    ("number", "words"),
    [
        (0, "không"),
        (10, "mười"),
        (15, "mười lăm"),
        (21, "hai mươi mốt"),
        (24, "hai mươi tư"),
        (105, "một trăm linh năm"),
        (1005, "một nghìn không trăm linh năm"),
        (50_000, "năm mươi nghìn"),
        (1_200_000, "một triệu hai trăm nghìn"),
        (2_026, "hai nghìn không trăm hai mươi sáu"),
    ],
)
def test_numbers_in_vietnamese(number, words):
    assert number_words(number) == words


def test_speech_text_reads_amounts_dates_codes_and_abbreviations():
    said = speech_text(
        "Lệ phí 50.000 đồng; mang CCCD đến UBND xã trước 15/10/2026 lúc 7h30. "
        "Mã thủ tục 1.001193, tỷ lệ 87,5%."
    )
    assert "năm mươi nghìn đồng" in said
    assert "căn cước công dân" in said and "ủy ban nhân dân" in said
    assert "ngày mười lăm tháng mười năm hai nghìn không trăm hai mươi sáu" in said
    assert "bảy giờ ba mươi" in said
    assert "một chấm không không một một chín ba" in said
    assert "tám mươi bảy phẩy năm phần trăm" in said
    assert not any(ch.isdigit() for ch in said)


def test_dossier_codes_are_read_character_by_character():
    said = speech_text("Mã hồ sơ 000.00.12.H55-240101-0001 đã có kết quả.")
    assert said.startswith("Mã hồ sơ không không không chấm")  # not "mã hồ sơ mã …"
    assert "hát năm năm gạch hai bốn không một không một" in said  # the letter's Vietnamese name
    grouped = speech_text("Hồ sơ 000.00.12.H55-240101-0001.", SpeechStyle(grouped=True))
    assert "không không chấm, một hai chấm, hát năm năm gạch, hai bốn" in grouped


@pytest.mark.parametrize(
    ("written", "spoken"),
    [
        ("0905123456", "không chín không năm một hai ba bốn năm sáu"),
        ("0905 123 456", "không chín không năm một hai ba bốn năm sáu"),
        ("0236 3822 111", "không hai ba sáu ba tám hai hai một một một"),
        ("+84 905 123 456", "không chín không năm một hai ba bốn năm sáu"),
        ("1900 0000", "một chín không không không không không không"),
        ("1800.1234", "một tám không không một hai ba bốn"),
    ],
)
def test_phone_numbers_are_read_digit_by_digit(written, spoken):
    assert speech_text(f"Gọi {written}.") == f"Gọi {spoken}."


def test_phone_numbers_pause_between_groups_and_amounts_stay_amounts():
    grouped = SpeechStyle(grouped=True)
    assert (
        speech_text("Gọi 0905123456", grouped)
        == "Gọi không chín không năm, một hai ba, bốn năm sáu"
    )
    assert (
        speech_text("Gọi 1900 0000", grouped) == "Gọi một chín không không, không không không không"
    )
    said = speech_text("Phí 135.000 đồng, tỷ lệ 0,5%, năm 2026, mã 1.001193.")
    assert "một trăm ba mươi lăm nghìn đồng" in said and "không phẩy năm phần trăm" in said
    assert "hai nghìn không trăm hai mươi sáu" in said


def test_dates_after_the_word_ngay_say_it_once():
    assert speech_text("Hạn nộp là ngày 15/3/2026.") == (
        "Hạn nộp là ngày mười lăm tháng ba năm hai nghìn không trăm hai mươi sáu."
    )
    assert speech_text("Ngày 1/7/2021 luật có hiệu lực.").startswith("Ngày một tháng bảy")


def test_long_answers_are_shortened_for_the_ear():
    answer = "Hồ sơ gồm tờ khai. " * 10 + "Căn cứ pháp lý: Luật Hộ tịch."
    now, later = prompts.for_the_ear(answer, limit=80)
    assert len(now) <= 80 and later.endswith("Luật Hộ tịch.")
    short, rest = prompts.for_the_ear("Lệ phí: miễn phí.")
    assert short == "Lệ phí: miễn phí." and rest == ""


def test_short_spoken_replies():
    assert prompts.is_yes("có ạ") and prompts.is_yes("vâng muốn nghe")
    assert not prompts.is_yes("không cần đâu")
    assert prompts.is_goodbye("thôi không còn gì, tạm biệt")
    assert prompts.spoken_digits("năm sáu bảy tám") == "5678"
    assert prompts.spoken_digits("5 6 7 8") == "5678"


def test_keypad_dossier_code_takes_the_province_letter():
    assert keypad_dossier_code("0000012552401010001", "H") == "000.00.12.H55-240101-0001"
    assert keypad_dossier_code("123", "H") is None


def _audio(*parts: tuple[str, float]) -> list[bytes]:
    rng = np.random.default_rng(1)
    chunks = []
    for kind, seconds in parts:
        n = int(seconds * 8000)
        if kind == "talk":
            chunks.append(np.sin(np.arange(n) * 2 * np.pi * 180 / 8000) * 5000)
        else:
            chunks.append(rng.normal(0, 25, n))
    return frames_of(np.concatenate(chunks).astype(np.int16))


def _events(detector: EndpointDetector, frames: list[bytes]) -> list[tuple[float, VadEvent]]:
    out, now = [], 0.0
    for frame in frames:
        event = detector.feed(frame, now)
        if event:
            out.append((round(now, 2), event))
        now += 0.02
    for _ in range(200):  # then no frames at all, as Asterisk does in silence
        event = detector.poll(now)
        if event:
            out.append((round(now, 2), event))
        now += 0.02
    return out


def test_detector_ends_an_utterance_after_the_hangover_even_without_frames():
    events = _events(EndpointDetector(), _audio(("quiet", 1.0), ("talk", 1.0)))
    assert [e for _, e in events] == [VadEvent.SPEECH_STARTED, VadEvent.SPEECH_ENDED]
    started, ended = events[0][0], events[1][0]
    assert 1.0 < started <= 1.14  # barge-in can react within 200 ms
    assert 2.4 <= ended <= 2.6  # 450 ms of silence after the last voiced frame


def test_digits_mode_does_not_cut_a_caller_reading_digits():
    # digit, 0.9 s pause, digit, 0.9 s pause, digit: one utterance in digits mode
    parts = [("quiet", 0.5)] + [("talk", 0.3), ("quiet", 0.9)] * 2 + [("talk", 0.3)]
    normal = _events(EndpointDetector(), _audio(*parts))
    digits = _events(EndpointDetector(digits_mode=True), _audio(*parts))
    assert sum(e is VadEvent.SPEECH_ENDED for _, e in normal) == 3
    assert sum(e is VadEvent.SPEECH_ENDED for _, e in digits) == 1
