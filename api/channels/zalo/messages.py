"""Dialogue replies shaped to the OA's limits: 2,000 characters a text message (a longer
answer is split at paragraph, line or sentence ends, and past a few messages shortened to its
"Xem chi tiết" link) and five buttons a message (more are listed by number instead, and the
citizen types the number)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from nlu.chat import ChatMessage

MAX_TEXT = 2000
MAX_BUTTONS = 5
MAX_TITLE = 100
MAX_PARTS = 3  # messages one answer may take before it is shortened
_URL_RE = re.compile(r"https?://\S+")
_BREAKS = ("\n\n", "\n", ". ", "; ", ", ", " ")


@dataclass(frozen=True)
class OutMessage:
    text: str
    buttons: list[dict[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Plan:
    messages: list[OutMessage]
    choices: list[str] | None = None  # payloads listed by number, in order


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Pieces of at most ``limit`` characters, cut at the latest natural break."""
    parts: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        window = rest[: limit + 1]
        cut = next((window.rfind(b) for b in _BREAKS if window.rfind(b) > limit // 2), -1)
        cut = limit if cut <= 0 else cut + 1
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    return [*parts, rest] if rest else parts


def fit(text: str, limit: int = MAX_TEXT, max_parts: int = MAX_PARTS) -> list[str]:
    parts = split_text(text, limit)
    if len(parts) <= max_parts:
        return parts
    link = _URL_RE.search(text)
    tail = "…" + (f"\nXem đầy đủ tại: {link.group(0)}" if link else "")
    kept = parts[:max_parts]
    kept[-1] = split_text(kept[-1], limit - len(tail))[0] + tail
    return kept


def _title(title: str) -> str:
    return title if len(title) <= MAX_TITLE else title[: MAX_TITLE - 1].rstrip() + "…"


def plan(message: ChatMessage) -> Plan:
    parts = fit(message.text)
    buttons = [b for b in message.buttons if b.get("payload")]
    if not parts:
        return Plan([])
    if len(buttons) <= MAX_BUTTONS:
        shaped = [{"title": _title(b["title"]), "payload": b["payload"]} for b in buttons]
        return Plan([OutMessage(p) for p in parts[:-1]] + [OutMessage(parts[-1], shaped)])
    listing = "\n".join(f"{i}. {b['title']}" for i, b in enumerate(buttons, start=1))
    menu = split_text(f"Anh/chị nhắn số thứ tự để chọn:\n{listing}")
    return Plan([OutMessage(p) for p in [*parts, *menu]], [b["payload"] for b in buttons])
