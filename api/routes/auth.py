"""Staff login and logout: an HttpOnly session cookie plus a CSRF token for unsafe requests."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.auth.models import StaffUser
from api.auth.service import (
    Staff,
    close_session,
    login_candidate,
    open_session,
    password_matches,
)
from api.deps import SESSION_COOKIE, ClientDep, KnowledgeBaseDep, LimiterDep, current_staff
from api.errors import UnauthorizedError
from api.ratelimit import RateLimiter
from api.schemas import error_responses
from knowledge_base.db import session_scope
from knowledge_base.service import KnowledgeBase

router = APIRouter(
    prefix="/api/v1/auth",
    tags=["staff auth"],
    responses=error_responses(400, 401, 403, 413, 422, 429),
)


class LoginRequest(BaseModel):
    username: Annotated[str, Field(min_length=1, max_length=64)]
    password: Annotated[str, Field(min_length=1, max_length=200)]


class StaffOut(BaseModel):
    username: str
    role: str
    csrf_token: str
    expires_at: datetime | None = None


async def start_session(
    kb: KnowledgeBase, username: str, password: str
) -> tuple[StaffOut, str] | None:
    user = await run_in_threadpool(_candidate, kb, username)
    if not await password_matches(user.password_hash if user else None, password):
        return None
    assert user is not None
    return await run_in_threadpool(_open, kb, user.id)


def _candidate(kb: KnowledgeBase, username: str) -> StaffUser | None:
    with session_scope(kb.engine) as session:
        user = login_candidate(session, username)
        if user is not None:
            session.expunge(user)
        return user


def _open(kb: KnowledgeBase, user_id: int) -> tuple[StaffOut, str] | None:
    with session_scope(kb.engine) as session:
        user = session.get(StaffUser, user_id)
        if user is None or not user.active:  # disabled while the password was checked
            return None
        login = open_session(session, user, kb.settings.staff_session_ttl_s)
        out = StaffOut(
            username=user.username,
            role=user.role.value,
            csrf_token=login.csrf_token,
            expires_at=login.expires_at,
        )
        return out, login.token


async def attempt_login(
    kb: KnowledgeBase, limiter: RateLimiter, client: str, username: str, password: str
) -> tuple[StaffOut, str] | None:
    """A login unless this address or this account has had too many wrong passwords lately
    (RateLimitedError); every wrong password counts against both."""
    name = username.strip().lower()
    await limiter.check("login_ip", client)
    await limiter.check("login_user", name)
    result = await start_session(kb, name, password)
    if result is None:
        await limiter.record("login_ip", client)
        await limiter.record("login_user", name)
    return result


@router.post("/login", response_model=StaffOut)
async def login(
    body: LoginRequest,
    response: Response,
    kb: KnowledgeBaseDep,
    limiter: LimiterDep,
    client: ClientDep,
) -> StaffOut:
    result = await attempt_login(kb, limiter, client, body.username, body.password)
    if result is None:
        raise UnauthorizedError("wrong username or password")
    out, token = result
    set_session_cookie(response, kb, token)
    return out


def set_session_cookie(response: Response, kb: KnowledgeBase, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=kb.settings.staff_session_ttl_s,
        httponly=True,
        samesite="strict",  # the browser never sends it from another site's form
        secure=kb.settings.environment == "production",
        path="/",
    )


def end_session(kb: KnowledgeBase, token: str) -> None:
    with session_scope(kb.engine) as session:
        close_session(session, token)


@router.post("/logout", status_code=204)
async def logout(
    request: Request,
    response: Response,
    kb: KnowledgeBaseDep,
    _: Annotated[Staff, Depends(current_staff)],
) -> None:
    await run_in_threadpool(end_session, kb, request.cookies.get(SESSION_COOKIE, ""))
    response.delete_cookie(SESSION_COOKIE, path="/")


@router.get("/me", response_model=StaffOut)
async def me(staff: Annotated[Staff, Depends(current_staff)]) -> StaffOut:
    return StaffOut(username=staff.username, role=staff.role.value, csrf_token=staff.csrf_token)
