"""Webhook events, as far as the hotline uses them.

``user_send_text`` carries ``sender.id`` and ``message.{msg_id,text}``; a button of type
``oa.query.hide`` that the citizen taps arrives the same way with the button's payload as the
text (the dialogue's own payloads, ``/choose_option{"option":"2"}``, which Rasa's REST channel
reads as an intent). ``follow``/``unfollow`` name the user in ``follower.id``. Other
``user_send_*`` events (images, stickers, files…) get a hint; the rest (``oa_send_*`` echoes of
our own messages, seen and received receipts) are ignored.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass
from typing import Any


class Kind(enum.StrEnum):
    TEXT = "text"
    FOLLOW = "follow"
    UNFOLLOW = "unfollow"
    UNREADABLE = "unreadable"  # a message the hotline cannot read (image, sticker, file…)
    IGNORED = "ignored"


@dataclass(frozen=True)
class ZaloEvent:
    kind: Kind
    name: str
    user_id: str
    text: str
    key: str  # sha256 of the message id, or of the body when it has none


def _str(value: Any) -> str:
    return value.strip() if isinstance(value, str) else str(value) if isinstance(value, int) else ""


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _kind(name: str) -> Kind:
    if name == "user_send_text":
        return Kind.TEXT
    if name in ("follow", "unfollow"):
        return Kind(name)
    if name.startswith("user_send_"):
        return Kind.UNREADABLE
    return Kind.IGNORED


def _payload(message: dict[str, Any]) -> str:
    """A quick reply's payload where the platform puts one beside the text."""
    quick = _dict(message.get("quick_reply"))
    return _str(quick.get("payload")) or _str(message.get("payload"))


def parse(body: dict[str, Any], raw: bytes) -> ZaloEvent | None:
    """None when the event names no user (nothing can be done with it)."""
    name = _str(body.get("event_name"))
    kind = _kind(name)
    message = _dict(body.get("message"))
    person = body.get("follower") if kind in (Kind.FOLLOW, Kind.UNFOLLOW) else None
    user_id = _str(_dict(person or body.get("sender")).get("id"))
    if not user_id or len(user_id) > 64:
        return None
    msg_id = _str(message.get("msg_id"))
    identity = f"msg:{msg_id}".encode() if msg_id else b"body:" + raw
    text = (_payload(message) or _str(message.get("text"))) if kind is Kind.TEXT else ""
    return ZaloEvent(kind, name, user_id, text, hashlib.sha256(identity).hexdigest())
