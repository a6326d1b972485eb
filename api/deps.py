"""Annotated dependencies shared by the route modules."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.orm import Session

from api.auth.models import Role
from api.auth.service import Staff, resolve_session
from api.errors import ForbiddenError, UnauthorizedError
from knowledge_base.db import session_scope
from knowledge_base.service import KnowledgeBase
from knowledge_base.settings import Settings
from nlu.actions import ActionServer
from nlu.chat import ChatService


def get_kb(request: Request) -> KnowledgeBase:
    kb: KnowledgeBase = request.app.state.kb
    return kb


def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.kb.settings
    return settings


def get_session(kb: Annotated[KnowledgeBase, Depends(get_kb)]) -> Iterator[Session]:
    with Session(kb.engine, expire_on_commit=False) as session:
        yield session


def get_chat(request: Request) -> ChatService:
    chat: ChatService = request.app.state.chat
    return chat


def get_actions(request: Request) -> ActionServer:
    actions: ActionServer = request.app.state.actions
    return actions


def require_staff(
    settings: Annotated[Settings, Depends(get_app_settings)],
    authorization: Annotated[str, Header()] = "",
) -> None:
    """Bearer token of the staff desk (the staff site with logins replaces it later)."""
    expected = settings.staff_api_token
    if not expected:
        raise ForbiddenError("the staff API is disabled: set HOTLINE_STAFF_API_TOKEN")
    given = authorization.removeprefix("Bearer ").strip()
    if not secrets.compare_digest(given.encode(), expected.encode()):
        raise ForbiddenError("missing or wrong staff token")


SESSION_COOKIE = "hotline_staff"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def current_staff(
    request: Request,
    kb: Annotated[KnowledgeBase, Depends(get_kb)],
    x_csrf_token: Annotated[str, Header()] = "",
) -> Staff:
    """The logged-in staff member; unsafe methods must echo the session's CSRF token."""
    token = request.cookies.get(SESSION_COOKIE, "")
    if not token:
        raise UnauthorizedError("login required")
    with session_scope(kb.engine) as session:
        staff = resolve_session(session, token)
    if staff is None:
        raise UnauthorizedError("the session has expired; log in again")
    if request.method not in SAFE_METHODS and not secrets.compare_digest(
        x_csrf_token.encode(), staff.csrf_token.encode()
    ):
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
SessionDep = Annotated[Session, Depends(get_session)]
ChatDep = Annotated[ChatService, Depends(get_chat)]
ActionsDep = Annotated[ActionServer, Depends(get_actions)]
StaffDep = Depends(require_staff)
EditorDep = Annotated[Staff, Depends(role(Role.EDITOR))]
ReviewerDep = Annotated[Staff, Depends(role(Role.REVIEWER))]
AdminDep = Annotated[Staff, Depends(role(Role.ADMIN))]
