"""Structured log lines: the event name as the message and its fields, as ``key=value`` text
(development) or one JSON object a line (``HOTLINE_LOG_FORMAT=json``, for a log pipeline), each
with the request id or call id it belongs to.

Log calls never carry a citizen's words; as a last line of defence every formatted line,
traceback included (a database error quotes its parameters), is masked (``nlu.privacy``).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from knowledge_base.log_context import call_id, request_id
from nlu.privacy import mask_text

_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


class ContextFilter(logging.Filter):
    """Adds the current request id and call id to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in (("request_id", request_id), ("call_id", call_id)):
            value = var.get()
            if value and not hasattr(record, name):
                setattr(record, name, value)
        return True


def _fields(record: logging.LogRecord) -> dict[str, object]:
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD}


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = _fields(record)
        if fields:
            line += " " + " ".join(f"{key}={value!r}" for key, value in fields.items())
        return mask_text(line)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "event": record.getMessage(),
            **_fields(record),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return mask_text(json.dumps(entry, ensure_ascii=False, default=str))


def configure(verbose: bool, log_format: str = "text") -> None:
    handler = logging.StreamHandler()
    handler.addFilter(ContextFilter())
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(KeyValueFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, handlers=[handler], force=True
    )
    logging.getLogger("bm25s").setLevel(logging.WARNING)
