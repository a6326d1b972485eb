"""Staff login and logout pages, and user accounts for admins."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.auth.models import Role, StaffUser
from api.auth.service import (
    AccountError,
    create_user,
    generate_password,
    reset_password,
    revoke_sessions,
    set_active,
)
from api.deps import (
    SESSION_COOKIE,
    AdminDep,
    ClientDep,
    KnowledgeBaseDep,
    LimiterDep,
    StaffDep,
    run_in_session,
)
from api.errors import ForbiddenError, NotFoundError, rate_limited_message
from api.ratelimit import RateLimitedError
from api.routes.auth import attempt_login, end_session, set_session_cookie
from api.site.render import SITE_PREFIX, page
from knowledge_base.models import AuditEntry

router = APIRouter(prefix=SITE_PREFIX, include_in_schema=False)


def _safe_next(target: str) -> str:
    # Only back into the staff site: never an open redirect to another host.
    if target.startswith(SITE_PREFIX) and not target.startswith("//"):
        return target
    return SITE_PREFIX


def _same_origin(request: Request) -> bool:
    """Login CSRF: a form on another site must not sign the browser in to an account of the
    attacker's. Browsers send Origin on POST; a client that sends none is not a browser."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    expected = f"{request.url.scheme}://{request.url.netloc}"
    forwarded = request.headers.get("x-forwarded-host")
    return origin == expected or (forwarded is not None and origin.endswith("://" + forwarded))


@router.get("/login")
async def login_form(request: Request, next: str = SITE_PREFIX) -> HTMLResponse:
    return page(request, "login.html", None, next=_safe_next(next), username="")


@router.post("/login")
async def login_submit(
    request: Request,
    kb: KnowledgeBaseDep,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=200)],
    limiter: LimiterDep,
    client: ClientDep,
    next: Annotated[str, Form(max_length=300)] = SITE_PREFIX,
) -> Response:
    if not _same_origin(request):
        raise ForbiddenError("the login form was posted from another site")
    try:
        result = await attempt_login(kb, limiter, client, username, password)
    except RateLimitedError as exc:
        refused = page(
            request,
            "login.html",
            None,
            429,
            next=_safe_next(next),
            username=username,
            error=rate_limited_message(exc),
        )
        refused.headers["Retry-After"] = str(exc.retry_after_s)
        return refused
    if result is None:
        return page(
            request,
            "login.html",
            None,
            401,
            next=_safe_next(next),
            username=username,
            error="Tên đăng nhập hoặc mật khẩu không đúng.",
        )
    response = RedirectResponse(_safe_next(next), status_code=303)
    set_session_cookie(response, kb, result[1])
    return response


@router.post("/logout")
async def logout_submit(request: Request, kb: KnowledgeBaseDep, _: StaffDep) -> Response:
    await run_in_threadpool(end_session, kb, request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse(f"{SITE_PREFIX}/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _users(session: Session) -> list[StaffUser]:
    rows = list(session.scalars(select(StaffUser).order_by(StaffUser.username)))
    session.expunge_all()
    return rows


@router.get("/users")
async def users_page(request: Request, kb: KnowledgeBaseDep, staff: AdminDep) -> HTMLResponse:
    return page(request, "users.html", staff, users=await run_in_session(kb, _users))


UserAction = Literal["unlock", "disable", "enable", "reset", "signout"]
_DONE = {
    "unlock": "Đã mở khóa đăng nhập cho {name}.",
    "disable": "Đã khóa tài khoản {name} và đăng xuất mọi phiên.",
    "enable": "Đã mở lại tài khoản {name}.",
    "reset": "Đã đặt lại mật khẩu cho {name}; mọi phiên cũ đã kết thúc.",
    "signout": "Đã đăng xuất {name} khỏi {count} phiên.",
}


def _change_account(session: Session, actor: str, name: str, action: UserAction) -> tuple[str, int]:
    """The new password (reset) and the number of sessions ended (sign-out), as they apply."""
    password, count = "", 0
    if action == "disable":
        set_active(session, name, False)
    elif action == "enable":
        set_active(session, name, True)
    elif action == "reset":
        password = reset_password(session, name)
    elif action == "signout":
        count = revoke_sessions(session, name)
    session.add(AuditEntry(actor=actor, action=f"user.{action}", target=f"user:{name}"))
    return password, count


@router.post("/users/{username}/{action}")
async def users_action(
    request: Request,
    kb: KnowledgeBaseDep,
    staff: AdminDep,
    limiter: LimiterDep,
    username: Annotated[str, Path(max_length=64)],
    action: UserAction,
) -> HTMLResponse:
    """Unlock after wrong passwords, disable or re-enable, reset the password (shown once),
    or end every session of an account."""
    if action in ("disable", "reset", "signout") and username == staff.username:
        error = "Không thực hiện trên chính tài khoản đang dùng (nhờ quản trị viên khác)."
        users = await run_in_session(kb, _users)
        return page(request, "users.html", staff, 422, users=users, error=error)
    if action == "unlock":
        await limiter.clear("login_user", username)
    try:
        password, count = await run_in_session(
            kb, lambda s: _change_account(s, staff.username, username, action)
        )
    except AccountError:
        raise NotFoundError(f"no user {username!r}") from None
    return page(
        request,
        "users.html",
        staff,
        users=await run_in_session(kb, _users),
        notice_text=_DONE[action].format(name=username, count=count),
        created_user=username if password else "",
        created_password=password,
    )


@router.post("/users")
async def users_create(
    request: Request,
    kb: KnowledgeBaseDep,
    staff: AdminDep,
    username: Annotated[str, Form(max_length=64)],
    role: Annotated[Role, Form()],
) -> HTMLResponse:
    """A new account with a generated password, shown to the admin once."""
    password = generate_password()
    name = username.strip().lower()
    error, created = "", ""
    try:
        await run_in_session(kb, lambda s: create_user(s, name, role, password))
        created = password
    except AccountError as exc:
        error = f"Chưa tạo được tài khoản: {exc}"
    return page(
        request,
        "users.html",
        staff,
        422 if error else 201,
        users=await run_in_session(kb, _users),
        error=error,
        created_user=name if created else "",
        created_password=created,
    )
