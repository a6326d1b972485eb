"""One error shape for the whole API, mapped to HTTP in one place."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.site.render import SITE_PREFIX, error_page, to_login
from knowledge_base.curation import (
    CurationError,
    EntryNotFoundError,
    InvalidEntryError,
    VersionConflictError,
    WorkflowError,
)


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
    InvalidEntryError: (422, "invalid_entry"),
}


def _body(code: str, message: str, details: object = None) -> dict[str, object]:
    error: dict[str, object] = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return {"error": error}


def _respond(
    request: Request, status: int, code: str, message: str, details: object = None
) -> Response:
    """The API's JSON error shape; on the staff site the same error as a page (or, when the
    login is missing or expired, a redirect to the login page)."""
    if request.url.path.startswith(SITE_PREFIX):
        if status == 401:
            return to_login(request)
        return error_page(request, status, code)
    return JSONResponse(_body(code, message, details), status_code=status)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Response:
        return _respond(request, exc.status_code, exc.code, exc.message)

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
        code = "not_found" if exc.status_code == 404 else "http_error"
        return _respond(request, exc.status_code, code, str(exc.detail))
