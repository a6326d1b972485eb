"""Annotated dependencies shared by the route modules."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.orm import Session

from api.errors import ForbiddenError
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


KnowledgeBaseDep = Annotated[KnowledgeBase, Depends(get_kb)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
SessionDep = Annotated[Session, Depends(get_session)]
ChatDep = Annotated[ChatService, Depends(get_chat)]
ActionsDep = Annotated[ActionServer, Depends(get_actions)]
StaffDep = Depends(require_staff)
