"""Staff login and logout pages, and user accounts for admins."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.auth.models import Role, StaffUser
from api.auth.service import AccountError, create_user, generate_password
from api.deps import SESSION_COOKIE, AdminDep, KnowledgeBaseDep, StaffDep, run_in_session
from api.routes.auth import end_session, set_session_cookie, start_session
from api.site.render import SITE_PREFIX, page

router = APIRouter(prefix=SITE_PREFIX, include_in_schema=False)


def _safe_next(target: str) -> str:
    # Only back into the staff site: never an open redirect to another host.
    if target.startswith(SITE_PREFIX) and not target.startswith("//"):
        return target
    return SITE_PREFIX


@router.get("/login")
async def login_form(request: Request, next: str = SITE_PREFIX) -> HTMLResponse:
    return page(request, "login.html", None, next=_safe_next(next), username="")


@router.post("/login")
async def login_submit(
    request: Request,
    kb: KnowledgeBaseDep,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=200)],
    next: Annotated[str, Form(max_length=300)] = SITE_PREFIX,
) -> Response:
    result = await run_in_threadpool(start_session, kb, username.strip().lower(), password)
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
