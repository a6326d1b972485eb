"""Re-split the national portal's table cells that the crawler ran together.

``cach_thuc_thuc_hien`` looks like
``Hình thức nộpThời gianPhí, lệ phíMô tảTrực tiếp20 Ngày làm việcMiễn phí(…)Trực tuyến…``:
the header, then for each channel its name, time limit, fee and a free-text description.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from knowledge_base.models import Channel
from knowledge_base.parsing.money_time import (
    TIME_RE,
    Fee,
    TimeLimit,
    parse_fee,
    parse_time_limit,
)
from knowledge_base.text.normalize import fold_accents, normalize_text

_CHANNEL_NAMES = {
    "Trực tiếp": Channel.IN_PERSON,
    "Trực tuyến": Channel.ONLINE,
    "Dịch vụ bưu chính": Channel.POST,
    "Bưu chính": Channel.POST,
    "Bưu chính công ích": Channel.POST,
}
_CHANNEL_HEADER = "Hình thức nộpThời gianPhí, lệ phíMô tả"
# A channel name starts a row only when a time limit, a fee or "no information" follows it; in
# descriptions the same words are followed by ":" or ordinary text.
_CHANNEL_RE = re.compile(
    r"(Dịch vụ bưu chính|Bưu chính công ích|Bưu chính|Trực tiếp|Trực tuyến)"
    r"(?=\s*(?:\d|Không có thông tin|Miễn phí|Phí|Lệ phí|Theo|Trong|Ngay|$))"
)
_TIME_HEAD_RE = re.compile(
    r"\s*(\d+(?:[.,]\d+)?)\s*(Ngày làm việc|Ngày|Giờ làm việc|Giờ|Phút|Tuần|Tháng|Năm)?",
    re.IGNORECASE,
)
_FEE_HEAD_RE = re.compile(
    r"\s*(Miễn phí|Không có thông tin|(?:Phí|Lệ phí)\s*:?\s*[\d.,]+\s*(?:Việt Nam )?Đồng"
    r"|[\d.,]+\s*(?:Việt Nam Đồng|Đồng|VNĐ|đồng|USD))",
)
_PAREN_RE = re.compile(r"^\s*\(")


@dataclass
class ChannelRow:
    channel: Channel
    time_limit_text: str = ""
    time_limit: TimeLimit | None = None
    fee_text: str = ""
    fee: Fee | None = None
    description: str = ""


def _balanced_parenthetical(text: str) -> tuple[str, str]:
    """Split a leading "(…)" (with nesting) from the rest of ``text``."""
    if not _PAREN_RE.match(text):
        return "", text
    depth = 0
    for index, char in enumerate(text):
        depth += char == "("
        depth -= char == ")"
        if depth == 0:
            return text[: index + 1].strip(), text[index + 1 :]
    return text.strip(), ""


def parse_channel_row(channel: Channel, segment: str) -> ChannelRow:
    row = ChannelRow(channel=channel)
    rest = segment
    time_match = _TIME_HEAD_RE.match(rest)
    money_follows = time_match and re.match(
        r"\s*(VNĐ|Việt Nam Đồng|Đồng|đồng|USD)", rest[time_match.end() :]
    )
    if time_match and not money_follows:
        row.time_limit_text = time_match.group(0).strip()
        row.time_limit = parse_time_limit(row.time_limit_text)
        rest = rest[time_match.end() :]
    fee_match = _FEE_HEAD_RE.match(rest)
    if fee_match:
        detail, rest = _balanced_parenthetical(rest[fee_match.end() :])
        head = fee_match.group(1).strip()
        row.fee_text = f"{head} {detail}".strip() if detail else head
        row.fee = parse_fee(head)
        if detail and (row.fee is None or row.fee.free):
            # The portal often labels a row "Miễn phí" and then lists the real charges in
            # brackets; the bracketed amounts win, the free label does not.
            detailed = parse_fee(detail)
            if detailed is not None and detailed.amount_vnd:
                row.fee = detailed
    row.description = rest.strip()
    if row.time_limit is None and row.description:
        row.time_limit = parse_time_limit_in_prose(row.description)
    return row


def parse_time_limit_in_prose(text: str) -> TimeLimit | None:
    match = TIME_RE.search(fold_accents(normalize_text(text)))
    return parse_time_limit(match.group(0)) if match else None


def parse_channels(text: str) -> list[ChannelRow]:
    """Rows of the portal's submission table, in the order the portal lists them."""
    text = text.replace(_CHANNEL_HEADER, "", 1)
    matches = list(_CHANNEL_RE.finditer(text))
    rows = []
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        rows.append(parse_channel_row(_CHANNEL_NAMES[match.group(1)], text[match.end() : end]))
    return rows


@dataclass
class DocumentItem:
    name: str
    originals: int | None = None
    copies: int | None = None
    form: str = ""


_DOC_HEADER_RE = re.compile(r"Tên giấy tờMẫu đơn, tờ khaiSố lượng")
_DOC_ITEM_RE = re.compile(
    r"(.+?)((?:\d+\s*bản chính(?:\s*,\s*\d+\s*bản sao)?)|(?:\d+\s*bản sao))", re.IGNORECASE | re.S
)


def parse_documents(text: str) -> list[DocumentItem]:
    """Split "NameN bản chính,M bản sao" items; group headings before a table are dropped."""
    items: list[DocumentItem] = []
    for section in _DOC_HEADER_RE.split(text):
        for match in _DOC_ITEM_RE.finditer(section):
            name = match.group(1).strip(" -+*;:\n\t")
            counts = match.group(2)
            originals = re.search(r"(\d+)\s*bản chính", counts, re.IGNORECASE)
            copies = re.search(r"(\d+)\s*bản sao", counts, re.IGNORECASE)
            if not name or name == "--":
                continue
            items.append(
                DocumentItem(
                    name=name,
                    originals=int(originals.group(1)) if originals else None,
                    copies=int(copies.group(1)) if copies else None,
                )
            )
    return items


_LEGAL_HEADER = "Tên văn bản pháp lýMã văn bản"
_LEGAL_CODE_RE = re.compile(r"(\d+)/((?:\d{4}/)?[A-ZĐ]+\d*(?:-[A-ZĐ]+g?)*)")
_GLUED_YEAR_RE = re.compile(r"^((?:19|20)\d{2})(\d{1,3})$")


@dataclass
class LegalReference:
    title: str
    code: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        if self.code and self.code not in self.title:
            return f"{self.title} ({self.code})"
        return self.title


def parse_legal_basis(text: str) -> list[LegalReference]:
    """Pairs of (title, document number) from the run-together legal-basis table."""
    text = text.replace(_LEGAL_HEADER, "", 1).strip()
    references = []
    position = 0
    for match in _LEGAL_CODE_RE.finditer(text):
        number, suffix = match.group(1), match.group(2)
        title = text[position : match.start()]
        # "…năm 2011" + "02/2011/QH13" arrive as "201102/2011/QH13": give the year back.
        glued = _GLUED_YEAR_RE.match(number)
        if glued:
            title, number = title + glued.group(1), glued.group(2)
        title = title.strip(" ;,\n")
        code = f"{number}/{suffix}"
        if title:
            references.append(LegalReference(title=title, code=code))
        elif references and not references[-1].code:
            references[-1].code = code
        position = match.end()
    tail = text[position:].strip(" ;,\n")
    if tail:
        references.append(LegalReference(title=tail))
    return references
