"""Compose Vietnamese answers by quoting catalogue fields; never invent a number."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from knowledge_base.answer.aspect import Aspect
from knowledge_base.models import Procedure, ProcedureChannel
from knowledge_base.text.tokens import content_syllables

MAX_FIELD_CHARS = 900


def _clip(text: str, limit: int = MAX_FIELD_CHARS) -> str:
    text = text.strip()
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut + " …"


def _channel_label(channel: ProcedureChannel) -> str:
    return channel.channel.label


def _fee_line(channel: ProcedureChannel) -> str:
    if channel.fee_text:
        return f"- {_channel_label(channel)}: {channel.fee_text}"
    return f"- {_channel_label(channel)}: danh mục không ghi mức phí, lệ phí"


def _time_line(channel: ProcedureChannel) -> str:
    if channel.time_limit_text:
        text = channel.time_limit_text
        if channel.time_limit_unit is None and channel.time_limit_value is not None:
            text += " (danh mục không ghi rõ đơn vị thời gian)"
        return f"- {_channel_label(channel)}: {text}"
    return f"- {_channel_label(channel)}: danh mục không ghi thời hạn giải quyết"


def _documents(p: Procedure) -> str:
    if not p.documents:
        return "Danh mục không liệt kê thành phần hồ sơ cho thủ tục này."
    lines = []
    for number, doc in enumerate(p.documents[:15], start=1):
        counts = []
        if doc.originals:
            counts.append(f"{doc.originals} bản chính")
        if doc.copies:
            counts.append(f"{doc.copies} bản sao")
        suffix = f" ({', '.join(counts)})" if counts else ""
        lines.append(f"{number}. {_clip(doc.name, 300)}{suffix}")
    if len(p.documents) > 15:
        lines.append(f"… và {len(p.documents) - 15} giấy tờ khác (xem trang thủ tục).")
    return "Hồ sơ gồm:\n" + "\n".join(lines)


def _agency(p: Procedure) -> str:
    parts = []
    if p.implementing_agency:
        parts.append(f"Cơ quan thực hiện: {p.implementing_agency}.")
    if p.competent_agency and p.competent_agency != p.implementing_agency:
        parts.append(f"Cơ quan có thẩm quyền: {p.competent_agency}.")
    if p.receiving_address:
        parts.append(f"Nơi tiếp nhận hồ sơ: {_clip(p.receiving_address, 300)}.")
    if p.levels:
        parts.append(f"Cấp thực hiện: {', '.join(p.levels)}.")
    return " ".join(parts) or "Danh mục không ghi cơ quan thực hiện cho thủ tục này."


def _channels(p: Procedure) -> str:
    if not p.channels:
        return "Danh mục không ghi cách thức nộp hồ sơ cho thủ tục này."
    labels = ", ".join(dict.fromkeys(c.channel.label.lower() for c in p.channels))
    lines = [f"Có thể nộp hồ sơ: {labels}."]
    for channel in p.channels:
        time = channel.time_limit_text or "không ghi thời hạn"
        fee = channel.fee_text or "không ghi phí, lệ phí"
        lines.append(f"- {channel.channel.label}: thời hạn {time}; phí, lệ phí: {fee}")
    return "\n".join(lines)


def _general(p: Procedure) -> str:
    parts = []
    if p.field:
        parts.append(f"Lĩnh vực: {p.field}.")
    parts.append(_agency(p))
    if p.channels:
        parts.append(_channels(p))
    if p.documents:
        parts.append(
            f'Hồ sơ gồm {len(p.documents)} loại giấy tờ; hỏi "cần giấy tờ gì" để nghe chi tiết.'
        )
    return "\n".join(parts)


def compose_procedure_answer(p: Procedure, aspect: Aspect) -> str:
    header = f"Thủ tục «{p.name}» (mã {p.code}):"
    if aspect is Aspect.FEE:
        body = (
            "Phí, lệ phí theo từng cách nộp:\n" + "\n".join(_fee_line(c) for c in p.channels)
            if p.channels
            else "Danh mục không ghi phí, lệ phí cho thủ tục này."
        )
    elif aspect is Aspect.TIME:
        body = (
            "Thời hạn giải quyết theo từng cách nộp:\n"
            + "\n".join(_time_line(c) for c in p.channels)
            if p.channels
            else "Danh mục không ghi thời hạn giải quyết cho thủ tục này."
        )
    elif aspect is Aspect.DOCUMENTS:
        body = _documents(p)
    elif aspect is Aspect.AGENCY:
        body = _agency(p)
    elif aspect is Aspect.CHANNEL:
        body = _channels(p)
    elif aspect is Aspect.STEPS:
        body = (
            "Trình tự thực hiện:\n" + _clip(p.steps)
            if p.steps
            else "Danh mục không ghi trình tự thực hiện."
        )
    elif aspect is Aspect.LEGAL_BASIS:
        body = (
            "Căn cứ pháp lý:\n" + "\n".join(f"- {_clip(x, 250)}" for x in p.legal_basis[:10])
            if p.legal_basis
            else "Danh mục không ghi căn cứ pháp lý."
        )
    elif aspect is Aspect.CONDITIONS:
        body = (
            "Yêu cầu, điều kiện:\n" + _clip(p.conditions)
            if p.conditions
            else "Danh mục không nêu yêu cầu, điều kiện riêng cho thủ tục này."
        )
    elif aspect is Aspect.RESULT:
        body = f"Kết quả: {p.result}" if p.result else "Danh mục không ghi kết quả thực hiện."
    else:
        body = _general(p)
    footer = f"Xem chi tiết: {p.source_url}" if p.source_url else ""
    return "\n".join(x for x in (header, body, footer) if x)


def near_variants(chosen: str, others: list[str]) -> list[str]:
    """Names among ``others`` that differ from ``chosen`` only by level or a qualifier."""
    base = content_syllables(chosen)
    variants = []
    for name in others:
        other = content_syllables(name)
        union = base | other
        if union and len(base & other) / len(union) >= 0.6:
            variants.append(name)
    return variants


def variant_note(chosen: str, variants: list[str]) -> str:
    if not variants:
        return ""
    listed = "; ".join(f"«{v}»" for v in variants[:3])
    return f"Câu trả lời trên dành cho «{chosen}». Có các thủ tục gần giống: {listed}. Anh/chị hỏi rõ tên nếu cần thủ tục khác."


def refusal(hotline_phone: str) -> str:
    return (
        "Xin lỗi, câu hỏi này nằm ngoài phạm vi thủ tục hành chính mà trợ lý tự động có thể trả lời. "
        f'Anh/chị vui lòng gọi tổng đài {hotline_phone} hoặc bấm "gặp nhân viên" để được tổng đài viên hỗ trợ.'
    )


class Named(Protocol):
    @property
    def name(self) -> str: ...


def unsure(closest: Sequence[Named], hotline_phone: str) -> str:
    """About a procedure, but not sure which: offer the closest ones rather than a refusal."""
    if not closest:
        return refusal(hotline_phone)
    listing = "\n".join(f"{i}. {p.name}" for i, p in enumerate(closest, start=1))
    return (
        "Tôi chưa chắc anh/chị hỏi về thủ tục nào. Có phải một trong các thủ tục sau không ạ?\n"
        f"{listing}\nAnh/chị có thể nói rõ hơn, hoặc gọi tổng đài {hotline_phone} hay bấm "
        '"gặp nhân viên" để được tổng đài viên hỗ trợ.'
    )


ASPECT_LABELS = {
    Aspect.FEE: "Phí, lệ phí",
    Aspect.TIME: "Thời hạn giải quyết",
    Aspect.CHANNEL: "Cách nộp hồ sơ",
    Aspect.AGENCY: "Nơi giải quyết",
    Aspect.DOCUMENTS: "Giấy tờ cần nộp",
}


def aspect_line(p: Procedure, aspect: Aspect) -> str | None:
    """One short line on one aspect, to set several procedures side by side; None for the
    aspects that do not fit on a line (steps, legal basis…)."""
    if aspect is Aspect.FEE:
        parts = [f"{c.channel.label}: {c.fee_text or 'không ghi'}" for c in p.channels]
    elif aspect is Aspect.TIME:
        parts = [f"{c.channel.label}: {c.time_limit_text or 'không ghi'}" for c in p.channels]
    elif aspect is Aspect.CHANNEL:
        parts = list(dict.fromkeys(c.channel.label.lower() for c in p.channels))
    elif aspect is Aspect.AGENCY:
        parts = [p.implementing_agency or p.competent_agency]
    elif aspect is Aspect.DOCUMENTS:
        parts = [f"{len(p.documents)} loại giấy tờ"] if p.documents else []
    else:
        return None
    found = "; ".join(x for x in parts if x) or "danh mục không ghi"
    return _clip(found, 200)
