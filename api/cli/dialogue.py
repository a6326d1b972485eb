"""CLI for the dialogue layer: Rasa model and server, dossier import."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from knowledge_base.settings import get_settings

if TYPE_CHECKING:
    from nlu.notifications.sync import SyncReport

rasa_app = typer.Typer(
    help="The Rasa dialogue engine (its own Python 3.10 venv).", no_args_is_help=True
)
dossiers_app = typer.Typer(help="Dossier status data for look-ups.", no_args_is_help=True)


@rasa_app.command("train")
def rasa_train(force: bool = False) -> None:
    """Train the Rasa model unless one for the current project files is cached."""
    from nlu.runtime import train

    typer.echo(str(train(get_settings(), force=force)))


@rasa_app.command("serve")
def rasa_serve(
    port: int = 5005,
    api_url: Annotated[
        str, typer.Option(help="where the action webhook lives")
    ] = "http://127.0.0.1:8000",
) -> None:
    """Train if needed, then run ``rasa run --enable-api`` on 127.0.0.1 (replaces this process)."""
    from nlu.runtime import RASA_PROJECT, rasa_environment, serve_command, train

    settings = get_settings()
    train(settings)
    command = serve_command(settings, port, api_url)
    os.chdir(RASA_PROJECT)
    os.execve(command[0], command, rasa_environment(settings, serving=True))  # noqa: S606 - fixed argv, no shell


def _echo_sync(report: SyncReport) -> None:
    typer.echo(json.dumps(report.__dict__, ensure_ascii=False, indent=2))
    if report.rejected:
        raise typer.Exit(code=1)


@dossiers_app.command("import")
def dossiers_import(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
) -> None:
    """Import a one-stop-shop CSV export (columns: see README), as sync --source csv:PATH."""
    dossiers_sync(f"csv:{path}")


@dossiers_app.command("sync")
def dossiers_sync(
    source: Annotated[
        str,
        typer.Option(help="csv-folder:PATH, csv:FILE or http:URL (default: the setting)"),
    ] = "",
) -> None:
    """Upsert dossier status from the one-stop-shop system; queue notifications of changes."""
    # One message per subscription of each dossier whose status or result date changed;
    # schedule it (every 15 minutes, say): a second run queues nothing new.
    from api.cli.notifications import ready_engine
    from knowledge_base.db import session_scope
    from nlu.notifications.sync import SourceError, source_from_spec, sync_dossiers

    settings = get_settings()
    spec = source or settings.notify_sync_source
    try:
        reader = source_from_spec(spec, settings)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--source") from exc
    engine = ready_engine(settings)
    try:
        with session_scope(engine) as session:
            report = sync_dossiers(session, settings, reader)
    except (SourceError, ValueError) as exc:
        typer.echo(f"sync failed: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    _echo_sync(report)


@rasa_app.command("test")
def rasa_test(
    out: Annotated[Path, typer.Option(help="where Rasa writes its reports")] = Path(
        "var/rasa-test"
    ),
    min_accuracy: float = 0.90,
) -> None:
    """Validate the data, score held-out NLU examples and the test stories; fail below target."""
    from nlu.runtime import evaluate

    report = evaluate(get_settings(), out)
    typer.echo(json.dumps(report, ensure_ascii=False, indent=2))
    accuracy = float(report["intent_accuracy"])  # type: ignore[arg-type]
    if accuracy < min_accuracy or report["failed_stories"]:
        raise typer.Exit(code=1)


retention_app = typer.Typer(help="Retention of personal data.", no_args_is_help=True)


@retention_app.command("run")
def retention_run(
    days: Annotated[int | None, typer.Option(help="keep this many days (default: setting)")] = None,
) -> None:
    """Erase the words of turns, callers' numbers and Rasa tracker events older than the
    retention period; schedule it daily (cron or a Kubernetes CronJob)."""
    from knowledge_base.db import engine_for, migrate
    from nlu.retention import run_retention

    settings = get_settings()
    engine = engine_for(settings.database_url)
    migrate(engine)
    report = run_retention(engine, days if days is not None else settings.retention_days)
    typer.echo(
        json.dumps(
            {
                "cutoff": report.cutoff.isoformat(),
                "turns_erased": report.turns_erased,
                "callers_blanked": report.callers_blanked,
                "tracker_events_deleted": report.tracker_events_deleted,
                "notification_records_erased": report.notification_records_erased,
            }
        )
    )
