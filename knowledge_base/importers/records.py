"""The canonical procedure record every importer produces (and the project's own JSONL format)."""

from __future__ import annotations

import hashlib
import json

from pydantic import BaseModel, Field, field_validator

from knowledge_base.models import Channel

_CODE_CHARS = set("0123456789.-_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


class ChannelRecord(BaseModel):
    channel: Channel
    time_limit: str = ""
    fee: str = ""
    description: str = ""


class DocumentRecord(BaseModel):
    name: str = Field(min_length=1)
    originals: int | None = Field(default=None, ge=0)
    copies: int | None = Field(default=None, ge=0)
    form: str = ""


class ProcedureRecord(BaseModel):
    """One procedure in the project's canonical JSONL format (one JSON object per line)."""

    code: str = Field(min_length=1, max_length=32)
    name: str = Field(min_length=3)
    field: str = ""
    levels: list[str] = Field(default_factory=list)
    implementing_agency: str = ""
    competent_agency: str = ""
    receiving_address: str = ""
    target_group: str = ""
    steps: str = ""
    result: str = ""
    legal_basis: list[str] = Field(default_factory=list)
    conditions: str = ""
    source_url: str = ""
    channels: list[ChannelRecord] = Field(default_factory=list)
    documents: list[DocumentRecord] = Field(default_factory=list)

    @field_validator("code")
    @classmethod
    def _code_is_plain(cls, value: str) -> str:
        value = value.strip()
        if not value or not set(value) <= _CODE_CHARS:
            raise ValueError("code must be letters, digits, '.', '-' or '_' (e.g. 1.001193)")
        return value

    @field_validator("name")
    @classmethod
    def _name_is_text(cls, value: str) -> str:
        value = " ".join(value.split())
        if len(value) < 3:
            raise ValueError("name is empty")
        return value

    def content_hash(self) -> str:
        payload = json.dumps(self.model_dump(mode="json"), ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()
