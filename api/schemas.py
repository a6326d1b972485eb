"""Request and response bodies of the public API."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field

MAX_QUESTION_CHARS = 2000


def readable_text(value: str) -> str:
    """NFC, trimmed, with letters or digits and no control characters; else a clear error."""
    value = unicodedata.normalize("NFC", value).strip()
    if not value:
        raise ValueError("text is empty")
    if any(unicodedata.category(c) in {"Cc", "Cs", "Co"} and c not in "\n\t" for c in value):
        raise ValueError("text contains control or invalid characters")
    if not any(c.isalnum() for c in value):
        raise ValueError("text contains no letters or digits")
    return value


CitizenText = Annotated[
    str, Field(min_length=1, max_length=MAX_QUESTION_CHARS), AfterValidator(readable_text)
]


class AskRequest(BaseModel):
    question: CitizenText
    top_k: Annotated[int, Field(ge=1, le=20)] = 5


class ChatRequest(BaseModel):
    session_id: Annotated[str | None, Field(pattern=r"^[A-Za-z0-9_-]{8,64}$")] = None
    message: CitizenText


class Button(BaseModel):
    title: str
    payload: str


class ChatMessageOut(BaseModel):
    text: str
    buttons: list[Button]


class ChatResponse(BaseModel):
    session_id: str
    messages: list[ChatMessageOut]
    handoff: bool
    degraded: bool


class TurnOut(BaseModel):
    id: int
    role: str
    text: str
    created_at: datetime


class ConversationOut(BaseModel):
    id: str
    channel: str
    state: str
    updated_at: datetime


class StaffReply(BaseModel):
    text: CitizenText


class ProcedureSummary(BaseModel):
    code: str
    name: str
    score: float
    level: str
    agency: str
    url: str


class FaqSummary(BaseModel):
    id: int
    question: str
    answer: str
    procedure_codes: list[str]
    score: float


class AskResponse(BaseModel):
    answerable: bool
    aspect: str
    answer: str
    procedures: list[ProcedureSummary]
    faq: list[FaqSummary]
    refusal_kind: Literal["out_of_scope", "unsure"] | None = Field(
        default=None,
        description="why it was not answered: not about procedures, or not sure which one "
        "(the closest procedures are listed)",
    )


class ChannelOut(BaseModel):
    channel: str
    channel_label: str
    time_limit_text: str
    time_limit_value: float | None
    time_limit_unit: str | None
    fee_text: str
    fee_vnd: int | None
    fee_free: bool
    description: str


class DocumentOut(BaseModel):
    name: str
    originals: int | None
    copies: int | None
    form: str


class ProcedureOut(BaseModel):
    code: str
    name: str
    field: str
    levels: list[str]
    implementing_agency: str
    competent_agency: str
    receiving_address: str
    target_group: str
    steps: str
    result: str
    legal_basis: list[str]
    conditions: str
    source_url: str
    channels: list[ChannelOut]
    documents: list[DocumentOut]


class ProcedureListItem(BaseModel):
    code: str
    name: str
    field: str
    levels: list[str]
    agency: str
    url: str


class ProcedurePage(BaseModel):
    items: list[ProcedureListItem]
    total: int
    page: int
    page_size: int
