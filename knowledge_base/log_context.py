"""Which request or phone call a log line belongs to: set once where the work enters (an HTTP
request, a Rasa action call, a call on the line) and read by the log formatter."""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

request_id: ContextVar[str] = ContextVar("request_id", default="")
call_id: ContextVar[str] = ContextVar("call_id", default="")
_GIVEN_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def new_id() -> str:
    return uuid.uuid4().hex[:16]


def accepted_id(given: str | None) -> str:
    """An id a caller passed along (``X-Request-ID``, Rasa metadata), if it is a sane token;
    else a fresh one — a client must not inject text into the logs."""
    return given if given and _GIVEN_ID.match(given) else new_id()
