"""One error shape for the whole API, mapped to HTTP in one place."""

from __future__ import annotations

import logging
import math

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.ratelimit import RateLimitedError
from api.site.render import SITE_PREFIX, error_page, to_login
from knowledge_base.curation import (
    CurationError,
    EntryNotFoundError,
    FourEyesError,
    InvalidEntryError,
    VersionConflictError,
    WorkflowError,
)
from knowledge_base.metrics import RATE_LIMITED

logger = logging.getLogger(__name__)
UNAVAILABLE_MESSAGE = (
    "Hệ thống đang tạm thời gián đoạn. Xin vui lòng thử lại sau ít phút, "
    "hoặc gọi tổng đài để được hỗ trợ."
)
UNAVAILABLE_RETRY_S = 30


class ApiError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFoundError(ApiError):
    status_code = 404
    code = "not_found"


class ForbiddenError(ApiError):
    status_code = 403
    code = "forbidden"


class UnauthorizedError(ApiError):
    status_code = 401
    code = "unauthorized"


class ConflictError(ApiError):
    status_code = 409
    code = "conflict"


class NotReadyError(ApiError):
    status_code = 503
    code = "not_ready"


_CURATION_STATUS: dict[type[CurationError], tuple[int, str]] = {
    EntryNotFoundError: (404, "not_found"),
    VersionConflictError: (409, "version_conflict"),
    WorkflowError: (409, "workflow"),
    FourEyesError: (409, "four_eyes"),
    InvalidEntryError: (422, "invalid_entry"),
}

_HTTP_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed"}


def _body(code: str, message: str, details: object = None) -> dict[str, object]:
    error: dict[str, object] = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return {"error": error}


def _respond(
    request: Request,
    status: int,
    code: str,
    message: str,
    details: object = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """The API's JSON error shape; on the staff site the same error as a page (or, when the
    login is missing or expired, a redirect to the login page)."""
    if request.url.path.startswith(SITE_PREFIX):
        if status == 401:
            return to_login(request)
        response = error_page(request, status, code)
        response.headers.update(headers or {})
        return response
    return JSONResponse(_body(code, message, details), status_code=status, headers=headers)


def _wait(seconds: int) -> str:
    return f"{math.ceil(seconds / 60)} phút" if seconds >= 60 else f"{seconds} giây"


def rate_limited_message(exc: RateLimitedError) -> str:
    """For citizens and staff alike, in Vietnamese."""
    wait = _wait(exc.retry_after_s)
    if exc.rule == "login_user":
        return (
            f"Tài khoản tạm khóa vì nhập sai mật khẩu nhiều lần. Hãy thử lại sau {wait} "
            "hoặc nhờ quản trị viên mở khóa."
        )
    if exc.rule == "login_ip":
        return f"Đăng nhập sai quá nhiều lần từ máy này. Hãy thử lại sau {wait}."
    return f"Bạn gửi quá nhiều yêu cầu trong thời gian ngắn. Xin vui lòng thử lại sau {wait}."


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Response:
        return _respond(request, exc.status_code, exc.code, exc.message)

    @app.exception_handler(RateLimitedError)
    async def _rate_limited(request: Request, exc: RateLimitedError) -> Response:
        RATE_LIMITED.labels(exc.rule).inc()
        retry = {"Retry-After": str(exc.retry_after_s)}
        details = {"rule": exc.rule, "retry_after_s": exc.retry_after_s}
        message = rate_limited_message(exc)
        return _respond(request, 429, "rate_limited", message, details, retry)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        # the server also logs the traceback: Starlette re-raises after this response
        logger.error(
            "api.unexpected_error",
            extra={"path": request.url.path, "error": type(exc).__name__},
        )
        message = "Đã có lỗi xảy ra. Xin vui lòng thử lại sau."
        return _respond(request, 500, "internal_error", message)

    async def _database(request: Request, exc: Exception) -> Response:
        # connection refused, dropped or timed out: nothing was committed (each request is one
        # transaction), the pool reconnects by itself once the database is back
        if isinstance(exc, DBAPIError) and not _is_outage(exc):
            return await _unexpected(request, exc)
        logger.error(
            "database.unavailable",
            extra={"path": request.url.path, "error": type(exc).__name__},
        )
        retry = {"Retry-After": str(UNAVAILABLE_RETRY_S)}
        return _respond(request, 503, "unavailable", UNAVAILABLE_MESSAGE, headers=retry)

    for outage in (DBAPIError, DisconnectionError, PoolTimeoutError):
        app.add_exception_handler(outage, _database)

    @app.exception_handler(CurationError)
    async def _curation(request: Request, exc: CurationError) -> Response:
        status, code = _CURATION_STATUS.get(type(exc), (400, "bad_request"))
        return _respond(request, status, code, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        details = [
            {"field": ".".join(str(p) for p in e["loc"][1:]) or "body", "message": e["msg"]}
            for e in exc.errors()
        ]
        message = "; ".join(f"{d['field']}: {d['message']}" for d in details)
        return _respond(request, 422, "invalid_request", message, details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        return _respond(request, exc.status_code, code, str(exc.detail))


def _is_outage(exc: DBAPIError) -> bool:
    """The database could not be reached or dropped the connection — not a bad query."""
    return exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError)
