"""Annotated dependencies shared by the route modules."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Header, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.auth.models import Role
from api.auth.service import Staff, resolve_session
from api.channels import ChannelReplies
from api.errors import ForbiddenError, UnauthorizedError
from api.ratelimit import RateLimiter, client_key
from knowledge_base.answer.results import IndexRefresh
from knowledge_base.db import session_scope
from knowledge_base.service import KnowledgeBase
from knowledge_base.settings import Settings
from nlu.actions import ActionServer
from nlu.chat import ChatService

T = TypeVar("T")


def get_kb(request: Request) -> KnowledgeBase:
    kb: KnowledgeBase = request.app.state.kb
    return kb


def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.kb.settings
    return settings


def run_in_session(kb: KnowledgeBase, work: Callable[[Session], T]) -> Awaitable[T]:
    """Run blocking ORM work in one transaction on a worker thread."""

    def run() -> T:
        with session_scope(kb.engine) as session:
            return work(session)

    return run_in_threadpool(run)


async def commit_then_refresh(kb: KnowledgeBase, step: Callable[[Session], T]) -> IndexRefresh:
    """Commit a change to live content (FAQ, lexicon), then rebuild the index beside the
    serving one; on failure the old index keeps serving and the message says so."""
    await run_in_session(kb, step)
    return await run_in_threadpool(kb.refresh_index)


def get_limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.limiter
    return limiter


def client_of(request: Request) -> str:
    settings: Settings = request.app.state.kb.settings
    return client_key(request, settings.trusted_proxy_hops)


def rate_limit(rule: str) -> Callable[[Request], Awaitable[None]]:
    """A dependency counting one request of the calling client against ``rule``."""

    async def count(request: Request) -> None:
        await get_limiter(request).hit(rule, client_of(request))

    return count


def get_chat(request: Request) -> ChatService:
    chat: ChatService = request.app.state.chat
    return chat


def get_channel_replies(request: Request) -> ChannelReplies:
    replies: ChannelReplies = request.app.state.channel_replies
    return replies


def get_actions(request: Request) -> ActionServer:
    actions: ActionServer = request.app.state.actions
    return actions


SESSION_COOKIE = "hotline_staff"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _resolve(kb: KnowledgeBase, token: str) -> Staff | None:
    with session_scope(kb.engine) as session:
        return resolve_session(session, token)


async def current_staff(
    request: Request,
    kb: Annotated[KnowledgeBase, Depends(get_kb)],
    x_csrf_token: Annotated[str, Header()] = "",
) -> Staff:
    """The logged-in staff member; unsafe methods must echo the session's CSRF token, in the
    ``X-CSRF-Token`` header (API, htmx) or the ``csrf_token`` field of a staff-site form."""
    token = request.cookies.get(SESSION_COOKIE, "")
    if not token:
        raise UnauthorizedError("login required")
    staff = await run_in_threadpool(_resolve, kb, token)
    if staff is None:
        raise UnauthorizedError("the session has expired; log in again")
    if request.method not in SAFE_METHODS:
        given = x_csrf_token
        if not given and request.headers.get("content-type", "").startswith(FORM_TYPES):
            given = str((await request.form()).get("csrf_token") or "")
        if not secrets.compare_digest(given.encode(), staff.csrf_token.encode()):
            raise ForbiddenError("missing or wrong CSRF token (header X-CSRF-Token)")
    return staff


def role(needed: Role) -> Callable[[Staff], Staff]:
    """Dependency: the staff member, who must hold ``needed`` or a higher role (checked here,
    on the server, whatever the page shows)."""

    def check(staff: Annotated[Staff, Depends(current_staff)]) -> Staff:
        if not staff.may(needed):
            raise ForbiddenError(f"this needs the {needed.value} role")
        return staff

    return check


KnowledgeBaseDep = Annotated[KnowledgeBase, Depends(get_kb)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
ChatDep = Annotated[ChatService, Depends(get_chat)]
ChannelRepliesDep = Annotated[ChannelReplies, Depends(get_channel_replies)]
LimiterDep = Annotated[RateLimiter, Depends(get_limiter)]
ClientDep = Annotated[str, Depends(client_of)]
ActionsDep = Annotated[ActionServer, Depends(get_actions)]
StaffDep = Annotated[Staff, Depends(current_staff)]
EditorDep = Annotated[Staff, Depends(role(Role.EDITOR))]
ReviewerDep = Annotated[Staff, Depends(role(Role.REVIEWER))]
AdminDep = Annotated[Staff, Depends(role(Role.ADMIN))]
