"""A local stand-in for the Zalo OA API (send-message v3 and the OAuth v4 token refresh) on
127.0.0.1: it checks requests the way the platform does, records what it accepted, and can be
told to fail the next calls."""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

MESSAGE_PATH = "/v3.0/oa/message/cs"
TOKEN_PATH = "/v4/oa/access_token"
BUTTON_TYPES = {"oa.query.hide", "oa.query.show", "oa.open.url", "oa.open.phone"}
FAULTS = {
    "500": (500, {"error": -1, "message": "Internal error"}, {}),
    "503": (503, {"error": -1, "message": "Service unavailable"}, {}),
    "429": (429, {"error": -32, "message": "Too many requests"}, {"Retry-After": "0"}),
    "rate_error": (200, {"error": -32, "message": "Exceed rate limit"}, {}),
}


class FakeZalo:
    def __init__(self, app_id: str, app_secret: str, refresh_token: str) -> None:
        self.app_id, self.app_secret = app_id, app_secret
        self.refresh_token = refresh_token  # the one refresh token it accepts
        self.access_token = ""  # none valid until the first refresh
        self.expires_in = "90000"
        self.sent: list[dict[str, Any]] = []  # accepted message bodies, with "token"
        self.rejected: list[dict[str, Any]] = []  # requests the real API would refuse
        self.calls = 0  # message API calls, failed ones included
        self.refreshes = 0
        self._faults: list[str] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # --- what tests tell it -----------------------------------------------------------------
    def fail_next(self, *faults: str) -> None:
        """The next message calls answer these ("500", "503", "429", "rate_error")."""
        with self._lock:
            self._faults.extend(faults)

    def revoke_access_token(self) -> None:
        with self._lock:
            self.access_token = "revoked-" + secrets.token_hex(4)

    # --- what tests read --------------------------------------------------------------------
    def messages_to(self, user_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return [m["message"] for m in self.sent if m["recipient"]["user_id"] == user_id]

    def texts_to(self, user_id: str) -> list[str]:
        return [str(m["text"]) for m in self.messages_to(user_id)]

    def wait_for(self, condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; sent so far: {self.sent}")
            time.sleep(0.02)

    # --- the API ----------------------------------------------------------------------------
    def message(self, token: str, body: Any) -> tuple[int, dict[str, Any], dict[str, str]]:
        with self._lock:
            self.calls += 1
            if self._faults:
                return FAULTS[self._faults.pop(0)]
            if not token or token != self.access_token:
                return 200, {"error": -216, "message": "Access token is invalid"}, {}
            problem = _message_problem(body)
            if problem:
                self.rejected.append({"body": body, "problem": problem})
                return 200, {"error": -201, "message": problem}, {}
            self.sent.append({**body, "token": token})
            user_id = body["recipient"]["user_id"]
            data = {"message_id": secrets.token_hex(8), "user_id": user_id}
            return 200, {"error": 0, "message": "Success", "data": data}, {}

    def refresh(self, secret_key: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            if secret_key != self.app_secret or form.get("app_id") != self.app_id:
                return 200, {"error": -14001, "error_name": "Invalid app"}
            if form.get("grant_type") != "refresh_token":
                return 200, {"error": -14002, "error_name": "Invalid grant type"}
            if not form.get("refresh_token") or form["refresh_token"] != self.refresh_token:
                return 200, {"error": -14014, "error_name": "Invalid refresh token"}
            self.refreshes += 1
            self.access_token = "access-" + secrets.token_hex(8)
            self.refresh_token = "refresh-" + secrets.token_hex(8)  # the old one is spent
            return 200, {
                "access_token": self.access_token,
                "refresh_token": self.refresh_token,
                "expires_in": self.expires_in,
            }


def _message_problem(body: Any) -> str:
    if not isinstance(body, dict):
        return "body is not an object"
    recipient, message = body.get("recipient"), body.get("message")
    if not isinstance(recipient, dict) or not recipient.get("user_id"):
        return "recipient.user_id missing"
    if not isinstance(message, dict):
        return "message missing"
    text = message.get("text")
    if not isinstance(text, str) or not text.strip() or len(text) > 2000:
        return "text missing, empty or longer than 2000 characters"
    attachment = message.get("attachment")
    if attachment is None:
        return ""
    payload = attachment.get("payload") if isinstance(attachment, dict) else None
    if attachment.get("type") != "template" or not isinstance(payload, dict):
        return "attachment must be a template"
    buttons = payload.get("buttons")
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= 5:
        return "1 to 5 buttons"
    for button in buttons:
        title, kind, value = button.get("title"), button.get("type"), button.get("payload")
        if not isinstance(title, str) or not 1 <= len(title) <= 100:
            return "button title of 1 to 100 characters"
        if kind not in BUTTON_TYPES or not isinstance(value, str) or not value:
            return "button type and payload"
    return ""


def _handler(fake: FakeZalo) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("content-length") or 0))
            if self.path == MESSAGE_PATH:
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                status, answer, headers = fake.message(self.headers.get("access_token", ""), body)
            elif self.path == TOKEN_PATH:
                form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
                status, answer = fake.refresh(self.headers.get("secret_key", ""), form)
                headers = {}
            else:
                status, answer, headers = 404, {"error": 404}, {}
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
