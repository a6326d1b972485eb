"""The FastAPI application."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from api.body_limit import BodyLimitMiddleware
from api.channels import ChannelReplies
from api.channels.zalo import views as zalo_views
from api.errors import install_error_handlers
from api.metrics import RequestMetricsMiddleware
from api.metrics import router as metrics_router
from api.ratelimit import RateLimiter
from api.request_id import RequestIdMiddleware
from api.routes import (
    admin_faq,
    admin_feedback,
    admin_inbox,
    admin_lexicon,
    admin_model,
    ask,
    auth,
    chat,
    health,
    notifications,
    portal,
    procedures,
    rasa_webhook,
    staff,
    voice,
)
from api.security_headers import SecurityHeadersMiddleware
from api.site import (
    account_pages,
    catalogue_pages,
    dashboard_pages,
    desk_pages,
    faq_pages,
    lexicon_pages,
    model_pages,
    notification_pages,
)
from api.site.render import SITE_PREFIX
from knowledge_base.db import session_scope, setup_lock
from knowledge_base.following import follow_changes
from knowledge_base.ranking.jobs import RetrainJob
from knowledge_base.service import KnowledgeBase
from knowledge_base.settings import Settings, get_settings
from nlu.actions import ActionServer
from nlu.chat import ChatService, DialogueEngine, OfflineDialogue, RasaRestClient
from nlu.dossiers import (
    AttemptLimiter,
    MemoryAttemptLimiter,
    RedisAttemptLimiter,
    load_sample_if_empty,
)

logger = logging.getLogger(__name__)


def _limiter(settings: Settings) -> AttemptLimiter:
    if settings.redis_url:
        return RedisAttemptLimiter(settings.redis_url)
    return MemoryAttemptLimiter()


def _seed_sample_dossiers(kb: KnowledgeBase) -> None:
    # replicas starting together would each find the table empty and insert the same codes
    with setup_lock(kb.engine), session_scope(kb.engine) as session:
        load_sample_if_empty(session)


def create_app(
    settings: Settings | None = None,
    kb: KnowledgeBase | None = None,
    dialogue: DialogueEngine | None = None,
) -> FastAPI:
    knowledge_base = kb or KnowledgeBase(settings or get_settings())
    config = knowledge_base.settings
    rasa = dialogue or (
        RasaRestClient(config.rasa_url, config.rasa_timeout_s)
        if config.rasa_url
        else OfflineDialogue()
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(knowledge_base.warm_up)
        if config.load_sample_if_empty and config.environment != "production":
            # made-up dossiers for trying the look-up; never in a province's real database
            await run_in_threadpool(_seed_sample_dossiers, knowledge_base)
        app.state.ready = True
        logger.info("api.ready")
        stop = asyncio.Event()
        following = asyncio.create_task(follow_changes(knowledge_base, stop))
        if zalo is not None:
            await zalo.start()
        yield
        stop.set()
        await following
        if zalo is not None:
            await zalo.stop()
        if isinstance(rasa, RasaRestClient):
            await rasa.aclose()

    app = FastAPI(
        title="Tổng đài dịch vụ công — API",
        version="0.1.0",
        description="Answers questions about administrative procedures from the catalogue.",
        lifespan=lifespan,
    )
    app.state.kb = knowledge_base
    app.state.ready = False
    app.state.voice = None  # speech models load on the first call (api/routes/voice.py)
    app.state.actions = ActionServer(knowledge_base, knowledge_base.engine, _limiter(config))
    app.state.chat = ChatService(
        knowledge_base, knowledge_base.engine, rasa, actions=app.state.actions
    )
    app.state.limiter = RateLimiter(config)
    app.state.ranker_job = RetrainJob(knowledge_base)  # one training at a time, in the background
    app.state.channel_replies = ChannelReplies(knowledge_base.engine)  # staff replies out
    zalo = zalo_views.install(app, app.state.chat, app.state.limiter)
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(metrics_router)
    app.include_router(ask.router)
    app.include_router(procedures.router)
    app.include_router(chat.router)
    app.include_router(notifications.widget_router)
    app.include_router(notifications.admin_router)
    app.include_router(staff.router)
    app.include_router(rasa_webhook.router)
    app.include_router(zalo_views.router)
    app.include_router(auth.router)
    app.include_router(admin_faq.router)
    app.include_router(admin_feedback.router)
    app.include_router(admin_inbox.router)
    app.include_router(admin_lexicon.router)
    app.include_router(admin_model.router)
    app.include_router(voice.router)
    app.include_router(portal.router)
    for site in (
        account_pages,
        faq_pages,
        lexicon_pages,
        catalogue_pages,
        desk_pages,
        dashboard_pages,
        notification_pages,
    ):
        app.include_router(site.router)
    app.include_router(model_pages.router)
    app.mount("/static", StaticFiles(directory=portal.STATIC_DIR), name="static")
    if config.cors_origins:  # the widget embedded on the province's own portal domain
        app.add_middleware(
            CORSMiddleware,
            allow_origins=config.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["content-type"],
        )
    app.add_middleware(
        SecurityHeadersMiddleware, staff_prefix=SITE_PREFIX, page_paths=frozenset({"/"})
    )
    upload = catalogue_pages.router.prefix + "/upload"
    app.add_middleware(
        BodyLimitMiddleware,
        default_bytes=config.max_body_bytes,
        larger={upload: catalogue_pages.MAX_UPLOAD_BYTES + 2**20},  # the file plus its form
    )
    app.add_middleware(RequestMetricsMiddleware)  # counts refusals by any layer below
    app.add_middleware(RequestIdMiddleware)  # outermost: every log line has its request id
    return app
