"""CLI for the dialogue layer: Rasa model and server, dossier import."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from knowledge_base.settings import get_settings

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
    os.execve(command[0], command, rasa_environment(settings))  # noqa: S606 - fixed argv, no shell


@dossiers_app.command("import")
def dossiers_import(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
) -> None:
    """Import a one-stop-shop CSV export (columns: see README); upserts by dossier code."""
    from knowledge_base.db import engine_for, migrate, session_scope
    from nlu.dossiers import import_dossiers, read_dossier_csv

    settings = get_settings()
    engine = engine_for(settings.database_url)
    migrate(engine)
    try:
        with session_scope(engine) as session:
            report = import_dossiers(session, read_dossier_csv(path))
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    typer.echo(json.dumps(report.__dict__, ensure_ascii=False, indent=2))
    if report.rejected:
        raise typer.Exit(code=1)


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
            }
        )
    )
