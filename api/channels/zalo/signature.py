"""The webhook's signature, as the Zalo OA platform documents it.

Header ``X-ZEvent-Signature: mac=<hex>`` where ``hex = sha256(app_id + body + timestamp +
oa_secret_key)``: a plain SHA-256 (not an HMAC) over the app id, the raw request body, the
``timestamp`` field of that body (milliseconds) and the OA's secret key (not the app's).
Confirmed against Zalo developer guides and public integrations (the OA webhook page of
developers.zalo.me is not in the reference store used when this was written).

The timestamp is read from the raw bytes, so nothing a caller sent is parsed as JSON before
its signature holds; a body with several ``"timestamp"`` keys is verified against each.
"""

from __future__ import annotations

import hashlib
import hmac
import re

HEADER = "X-ZEvent-Signature"
_TIMESTAMP_RE = re.compile(rb'"timestamp"\s*:\s*"?(\d{1,20})"?')
_MAX_CANDIDATES = 4


def mac(app_id: str, body: bytes, timestamp: str, oa_secret_key: str) -> str:
    signed = app_id.encode() + body + timestamp.encode() + oa_secret_key.encode()
    return hashlib.sha256(signed).hexdigest()


def sign(app_id: str, body: bytes, timestamp: str, oa_secret_key: str) -> str:
    """The header value Zalo sends (tests sign their events with it)."""
    return "mac=" + mac(app_id, body, timestamp, oa_secret_key)


def verified_timestamp(
    header: str | None, body: bytes, app_id: str, oa_secret_key: str
) -> str | None:
    """The signed timestamp (ms, as written in the body) when the signature holds, else None
    (no header, no timestamp, or a wrong signature)."""
    if not header:
        return None
    supplied = header.strip()
    if supplied.lower().startswith("mac="):
        supplied = supplied[4:].strip()
    supplied = supplied.lower()
    candidates = dict.fromkeys(m.group(1).decode() for m in _TIMESTAMP_RE.finditer(body))
    for timestamp in list(candidates)[:_MAX_CANDIDATES]:
        if hmac.compare_digest(supplied, mac(app_id, body, timestamp, oa_secret_key)):
            return timestamp
    return None


def is_fresh(timestamp_ms: str, now_s: float, window_s: float) -> bool:
    """Within the replay window either side of now (clocks drift both ways)."""
    return abs(now_s - int(timestamp_ms) / 1000) <= window_s
