"""The FastAPI application."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from api.errors import install_error_handlers
from api.routes import ask, health, procedures
from knowledge_base.service import KnowledgeBase
from knowledge_base.settings import Settings, get_settings

logger = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, kb: KnowledgeBase | None = None) -> FastAPI:
    knowledge_base = kb or KnowledgeBase(settings or get_settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(knowledge_base.warm_up)
        app.state.ready = True
        logger.info("api.ready")
        yield

    app = FastAPI(
        title="Tổng đài dịch vụ công — API",
        version="0.1.0",
        description="Answers questions about administrative procedures from the catalogue.",
        lifespan=lifespan,
    )
    app.state.kb = knowledge_base
    app.state.ready = False
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(ask.router)
    app.include_router(procedures.router)
    return app
