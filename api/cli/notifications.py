"""CLI for dossier notifications: the outbox worker (``hotline notifications work``)."""

from __future__ import annotations

import asyncio
import json
import signal
from typing import Annotated

import typer
from sqlalchemy import Engine

from knowledge_base.settings import Settings, get_settings

notifications_app = typer.Typer(
    help="Dossier status notifications (outbox worker).", no_args_is_help=True
)


def ready_engine(settings: Settings) -> Engine:
    """The database, migrated first unless production (where `hotline db upgrade` does it)."""
    from knowledge_base.db import check_schema, engine_for, migrate, setup_lock

    engine = engine_for(settings.database_url)
    if settings.migrates_on_start:
        with setup_lock(engine):
            migrate(engine)
    else:
        check_schema(engine)
    return engine


@notifications_app.command("work")
def work(
    once: Annotated[
        bool, typer.Option("--once", help="send what is due now, then exit (cron, tests)")
    ] = False,
) -> None:
    """Send queued notifications with retries; runs until SIGTERM or Ctrl-C."""
    from api.channels.zalo.outbound import notification_client
    from nlu.notifications.outbox import OutboxWorker, RetryPolicy
    from nlu.notifications.senders import build_delivery

    settings = get_settings()
    engine = ready_engine(settings)
    zalo = notification_client(settings, engine)
    delivery = build_delivery(settings, engine, *(zalo or (None, None)))
    worker = OutboxWorker(engine, delivery, RetryPolicy.of(settings), settings.notify_batch)

    async def main() -> None:
        try:
            if once:
                report = await worker.run_once()
                typer.echo(json.dumps(report.__dict__))
                return
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, stop.set)
            await worker.run(stop, settings.notify_poll_s)
        finally:
            await delivery.aclose()

    asyncio.run(main())
