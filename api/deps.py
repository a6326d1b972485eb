"""Annotated dependencies shared by the route modules."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from knowledge_base.service import KnowledgeBase
from knowledge_base.settings import Settings


def get_kb(request: Request) -> KnowledgeBase:
    kb: KnowledgeBase = request.app.state.kb
    return kb


def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.kb.settings
    return settings


def get_session(kb: Annotated[KnowledgeBase, Depends(get_kb)]) -> Iterator[Session]:
    with Session(kb.engine, expire_on_commit=False) as session:
        yield session


KnowledgeBaseDep = Annotated[KnowledgeBase, Depends(get_kb)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
SessionDep = Annotated[Session, Depends(get_session)]
