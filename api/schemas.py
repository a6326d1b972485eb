"""Request and response bodies of the public API."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field

from knowledge_base.answer.results import RefusalKind

MAX_QUESTION_CHARS = 2000
# Ids, versions and counters the API looks up: PostgreSQL's integer (SQLite's is wider); a
# bigger number is refused with 422 instead of overflowing the database driver.
MAX_DB_INT = 2**31 - 1


def as_utc(value: datetime) -> datetime:
    """Timestamps are stored in UTC, but SQLite hands them back without an offset: mark them
    UTC so that every time the API returns is RFC 3339 with its offset."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


UtcDateTime = Annotated[datetime, AfterValidator(as_utc)]


class FieldProblem(BaseModel):
    field: str = Field(description="dotted path of the input, or 'body'")
    message: str


class RateLimitDetails(BaseModel):
    rule: str
    retry_after_s: int


class ErrorInfo(BaseModel):
    code: str = Field(description="machine-readable: not_found, invalid_request, rate_limited…")
    message: str = Field(description="for people; in Vietnamese where citizens see it")
    details: list[FieldProblem] | RateLimitDetails | None = Field(
        default=None, description="422: each invalid field; 429: the limit that was hit"
    )


class ErrorResponse(BaseModel):
    """The one error shape of the whole API (api/errors.py)."""

    error: ErrorInfo


_ERROR_MEANINGS = {
    400: "The body could not be parsed",
    401: "Not logged in, or the session has expired",
    403: "Missing or wrong CSRF token, or a role that may not do this",
    404: "Nothing with that id",
    409: "Conflicts with the current state (stale version, workflow step, four-eyes rule)",
    410: "The conversation has ended",
    413: "The request body is too large",
    422: "The input is invalid",
    429: "Too many requests; see the Retry-After header",
    503: "Not ready, or the database is unreachable; see the Retry-After header",
}
# any operation may meet a database outage
_ALWAYS = (503,)


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a router: the error statuses its operations can answer, all with
    the error shape (422 replaces FastAPI's default, which is not what the API sends)."""
    chosen = dict.fromkeys((*codes, *_ALWAYS))
    return {c: {"model": ErrorResponse, "description": _ERROR_MEANINGS[c]} for c in chosen}


def error_refs(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The same for operations that answer success in another media type (FastAPI would file
    a model under that type): errors are JSON, by reference to ErrorResponse, which the JSON
    routers register."""
    json = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}
    chosen = dict.fromkeys((*codes, *_ALWAYS))
    return {c: {"description": _ERROR_MEANINGS[c], "content": json} for c in chosen}


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
    kind: str | None = Field(
        default=None,
        description="what the reply is: answer, choose, not_sure, out_of_scope, "
        "not_understood, figure_missing, not_in_province, handoff, form, dossier, feedback, "
        "rating or small_talk",
    )
    procedure_code: str | None = Field(
        default=None, description="the procedure the reply is about, when it is about one"
    )


class TurnOut(BaseModel):
    id: int
    role: str
    text: str
    created_at: UtcDateTime


class ConversationOut(BaseModel):
    id: str
    channel: str
    state: str
    updated_at: UtcDateTime


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
    refusal_kind: RefusalKind | None = Field(
        default=None,
        description="why it was not answered: out_of_scope (not about procedures), unsure "
        "(the closest procedures are listed), not_understood, figure_missing (a province "
        "figure not entered yet), not_in_province (not in this province's catalogue)",
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
