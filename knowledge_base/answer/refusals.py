"""The refusals that are not "out of scope": each says what actually went wrong, so the citizen
knows what to do next and staff see the kinds apart in the inbox."""

from __future__ import annotations

import re
from typing import Literal

from knowledge_base.settings import Settings
from knowledge_base.text.normalize import fold_accents, normalize_text, strip_fillers
from knowledge_base.text.tokens import content_syllables
from knowledge_base.understanding.frame import Frame

# One Vietnamese syllable, accent-free: onset, vowels, coda. Keyboard mash and most foreign
# words fail it ("asdfgh", "qwerty").
_SYLLABLE_RE = re.compile(
    r"^(?:ngh|ng|gh|gi|kh|nh|ph|qu|th|tr|ch|[bcdghklmnpqrstvx])?"
    r"(?:[aeiouy]{1,3})(?:ch|ng|nh|[cmnpt])?$"
)

# sounds and words that carry no question of their own (accent-free)
_HESITATIONS = frozenset(
    {"a", "ah", "o", "oi", "u", "um", "uh", "hm", "hmm", "ha", "hu", "e", "eh", "alo", "vang"}
    | {"da", "nhe", "vay", "ay"}
)


def is_not_understood(question: str, recognised: bool) -> bool:
    """Nothing to go on: only fillers and stop words ("ờ thì", "alo alo"), or, when no record
    or action was recognised ("cccd" is), mostly strings that are no Vietnamese syllable."""
    folded = fold_accents(strip_fillers(normalize_text(question)))
    if not content_syllables(folded) - _HESITATIONS:
        return True
    words = re.findall(r"[a-z]+", folded)
    odd = [w for w in words if not _SYLLABLE_RE.match(w)]
    return not recognised and len(odd) * 2 > len(words)


def not_understood_text() -> str:
    return (
        "Xin lỗi, tôi chưa hiểu ý anh/chị. Anh/chị nói rõ hơn giúp tôi việc cần làm, ví dụ "
        "«làm hộ chiếu cần giấy tờ gì» hoặc «đăng ký khai sinh mất bao lâu» ạ."
    )


def figure_missing_text(label: str, hotline_phone: str) -> str:
    return (
        f"Số liệu «{label}» của tỉnh hiện chưa được cập nhật trên tổng đài. Anh/chị xem trên "
        f"Cổng dịch vụ công của tỉnh hoặc gọi tổng đài {hotline_phone} để được cung cấp ạ."
    )


def not_in_province_text(province: str, hotline_phone: str) -> str:
    return (
        f"Thủ tục anh/chị hỏi không có trong danh mục thủ tục hành chính của {province} mà "
        "tổng đài đang hỗ trợ; có thể thủ tục này do cơ quan trung ương hoặc tỉnh khác giải "
        f"quyết. Anh/chị gọi tổng đài {hotline_phone} hoặc bấm «Gặp nhân viên» để được "
        "hướng dẫn nơi làm ạ."
    )


def precise_refusal(
    question: str, frame: Frame, catalogue_objects: frozenset[str], settings: Settings
) -> tuple[Literal["not_understood", "not_in_province"], str] | None:
    """For a question the ranking could not answer: nothing to go on, or a record this
    province's catalogue has no procedure for (offering other records' procedures would
    mislead)."""
    if is_not_understood(question, not frame.is_empty):
        return "not_understood", not_understood_text()
    if frame.objects and not frame.objects & catalogue_objects:
        text = not_in_province_text(settings.province_name, settings.hotline_phone)
        return "not_in_province", text
    return None
