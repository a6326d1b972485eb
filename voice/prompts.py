"""What the line says (Vietnamese), how answers are shortened for the ear, and how short spoken
replies (yes, goodbye, a digit) are read."""

from __future__ import annotations

import re

from knowledge_base.text.normalize import fold_accents, normalize_text
from voice.tts.speech_text import DIGITS

MENU = (
    "Bấm phím 1 để hỏi về thủ tục hành chính, phím 2 để tra cứu hồ sơ, phím 0 để gặp tổng đài viên."
)
REPROMPT = "Anh chị còn nghe máy không ạ? Mời anh chị nói câu hỏi về thủ tục hành chính."
ASK_PROCEDURE = "Mời anh chị nói tên thủ tục hoặc câu hỏi của mình."
DID_NOT_HEAR = "Xin lỗi, tôi chưa nghe rõ. Anh chị vui lòng nói lại."
WANT_DETAILS = "Anh chị có muốn nghe chi tiết không ạ?"
TRANSFER = "Dạ, tôi đang chuyển máy tới tổng đài viên. Anh chị vui lòng giữ máy."
DOSSIER_CODE = (
    "Mời anh chị nhập mã hồ sơ bằng bàn phím, chỉ nhập các chữ số, kết thúc bằng phím thăng."
)
DOSSIER_PHONE = "Mời nhập bốn số cuối của số điện thoại đã đăng ký hồ sơ, kết thúc bằng phím thăng."
DOSSIER_BAD_CODE = "Mã hồ sơ chưa đúng. Mã gồm mười chín chữ số."
ASK_RATING = "Trước khi kết thúc, xin anh chị chấm điểm cuộc gọi từ 1 đến 5 bằng bàn phím."
THANKS_RATING = "Cảm ơn anh chị đã đánh giá."
SORRY_TRANSFER = "Xin lỗi, hệ thống đang gặp sự cố. Tôi chuyển máy tới tổng đài viên."
GOODBYE = "Cảm ơn anh chị đã gọi tổng đài dịch vụ công. Xin chào và hẹn gặp lại."
NOT_UNDERSTOOD_KEY = "Phím này chưa được hỗ trợ."
BUSY = "Xin lỗi, tổng đài đang bận. Anh chị vui lòng gọi lại sau ít phút."
TIME_LIMIT = "Cuộc gọi đã đến thời lượng tối đa. Cảm ơn anh chị đã gọi, xin chào và hẹn gặp lại."
SMS_OFFER = "Bấm phím 1 để nhận toàn bộ nội dung qua tin nhắn."
SMS_SENT = "Đã gửi tin nhắn tới số điện thoại anh chị đang gọi. Anh chị vui lòng kiểm tra tin nhắn."
SMS_FAILED = "Xin lỗi, hiện chưa gửi được tin nhắn. Anh chị vui lòng thử lại sau."
GREETING_ID = "greeting"

# Stable ids of the fixed prompts: the file names of a recorded prompt pack (``<id>.wav``).
# Never rename one: a province's recordings are named after it.
PROMPTS: dict[str, str] = {
    "menu": MENU,
    "reprompt": REPROMPT,
    "ask_procedure": ASK_PROCEDURE,
    "did_not_hear": DID_NOT_HEAR,
    "want_details": WANT_DETAILS,
    "transfer": TRANSFER,
    "dossier_code": DOSSIER_CODE,
    "dossier_phone": DOSSIER_PHONE,
    "dossier_bad_code": DOSSIER_BAD_CODE,
    "ask_rating": ASK_RATING,
    "thanks_rating": THANKS_RATING,
    "sorry_transfer": SORRY_TRANSFER,
    "goodbye": GOODBYE,
    "not_understood_key": NOT_UNDERSTOOD_KEY,
    "busy": BUSY,
    "time_limit": TIME_LIMIT,
    "sms_offer": SMS_OFFER,
    "sms_sent": SMS_SENT,
    "sms_failed": SMS_FAILED,
}


def greeting(province: str) -> str:
    return f"Xin chào, đây là tổng đài dịch vụ công {province}. Mời anh chị nói câu hỏi của mình. {MENU}"


def prompt_texts(province: str) -> dict[str, str]:
    """Every fixed prompt by id, the greeting with the province's name."""
    return {GREETING_ID: greeting(province), **PROMPTS}


def fixed_prompts(province: str) -> list[str]:
    return list(prompt_texts(province).values())


_LINK_RE = re.compile(r"https?://\S+|\[[^\]]*\]\([^)]*\)")
_BULLET_RE = re.compile(r"^\s*(?:[-•*]|\d+[.)])\s*", re.MULTILINE)
_SENTENCE_RE = re.compile(r"(?<=[.!?:;])\s+|\n+")
EAR_CHARS = 320


def for_the_ear(text: str, limit: int = EAR_CHARS) -> tuple[str, str]:
    """The essentials to say now and the rest to offer ("có muốn nghe chi tiết không?")."""
    clean = _BULLET_RE.sub("", _LINK_RE.sub("", text.replace("**", "")))
    sentences = [s.strip() for s in _SENTENCE_RE.split(clean) if s.strip()]
    now: list[str] = []
    for index, sentence in enumerate(sentences):
        if now and len(" ".join([*now, sentence])) > limit:
            rest = " ".join(sentences[index:])
            return _joined(now), _joined([rest])
        now.append(sentence)
    return _joined(now), ""


_FIRST_SENTENCE_RE = re.compile(r"^(.{20,}?[.!?:;])\s+(.+)$", re.DOTALL)
_DIGITS_ASKED_RE = re.compile(r"\b(?:ma ho so|so dien thoai|so cuoi)\b")


def first_sentence(text: str) -> tuple[str, str]:
    """The first sentence (at least a few words) and the rest, to synthesise separately."""
    found = _FIRST_SENTENCE_RE.match(text.strip())
    return (found.group(1), found.group(2)) if found else (text, "")


def asks_for_digits(text: str) -> bool:
    return bool(_DIGITS_ASKED_RE.search(_folded(text)))


def _joined(parts: list[str]) -> str:
    return " ".join(p if p[-1] in ".!?:;," else p + "." for p in parts)


def _folded(text: str) -> str:
    return fold_accents(normalize_text(text))


_YES_RE = re.compile(r"\b(?:co|muon|nghe|vang|da|u|ok|duoc|tiep)\b")
_NO_RE = re.compile(r"\b(?:khong|thoi|khoi)\b")
_GOODBYE_RE = re.compile(r"\b(?:tam biet|chao nhe|het roi|khong con gi|the thoi|cup may)\b")
_VARIANT_DIGITS = {"tư": 4, "lăm": 5}  # "hai mươi tư", "mười lăm"
DIGIT_WORDS = [*DIGITS, *_VARIANT_DIGITS]
_SPOKEN_DIGITS = {
    fold_accents(word): str(value)
    for word, value in [*((w, i) for i, w in enumerate(DIGITS)), *_VARIANT_DIGITS.items()]
}


def is_yes(text: str) -> bool:
    """A short yes ("có ạ", "vâng, muốn nghe"); a longer sentence is a new question."""
    folded = _folded(text)
    short = len(folded.split()) <= 4
    return short and bool(_YES_RE.search(folded)) and not _NO_RE.search(folded)


def is_goodbye(text: str) -> bool:
    return bool(_GOODBYE_RE.search(_folded(text)))


def spoken_digits(text: str) -> str:
    """Digits said aloud or recognised as numerals ("một hai ba" or "1 2 3" → "123")."""
    out = []
    for word in _folded(text).split():
        if word.isdigit():
            out.append(word)
        elif word in _SPOKEN_DIGITS:
            out.append(_SPOKEN_DIGITS[word])
    return "".join(out)
