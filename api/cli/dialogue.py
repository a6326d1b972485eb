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


def eval_dialogue(
    conversations: Annotated[Path, typer.Option(exists=True, help="a YAML file or a folder")],
    url: Annotated[
        str, typer.Option(help="a running API; default: start one on the sample catalogue")
    ] = "",
    rasa: Annotated[
        bool, typer.Option(help="with Rasa behind the API (--no-rasa: degraded mode)")
    ] = True,
    tag: Annotated[list[str], typer.Option(help="only conversations with this tag")] = [],  # noqa: B006
    concurrency: int = 4,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Scripted conversations through ``POST /api/v1/chat``: the share of conversations in
    which every turn met its expectation, and the share of turns."""
    import asyncio
    import tempfile

    from api.cli.harness import served_dialogue
    from nlu.dialogue_eval import (
        ONE_CLIENT_PLAYS_ALL,
        ConversationFileError,
        load_conversations,
        run_conversations,
        summary,
    )

    try:
        scripted = load_conversations(conversations)
    except ConversationFileError as exc:
        raise typer.BadParameter(str(exc), param_hint="--conversations") from exc
    if tag:
        scripted = [c for c in scripted if set(c.tags) & set(tag)]
    if url:
        results = asyncio.run(run_conversations(url, scripted, concurrency))
        report = summary(results)
    else:
        with tempfile.TemporaryDirectory(prefix="hotline-dialogue-eval-") as data_dir:
            env = {
                "HOTLINE_DATA_DIR": data_dir,
                "HOTLINE_DATABASE_URL": "",
                "HOTLINE_REDIS_URL": "",  # limits in memory: repeated runs start afresh
                **{key: str(value) for key, value in ONE_CLIENT_PLAYS_ALL.items()},
            }
            rasa_dir = get_settings().rasa_dir if rasa else None
            with served_dialogue(env, rasa_dir) as stack:
                results = asyncio.run(run_conversations(stack.api_url, scripted, concurrency))
        report = summary(results, degraded=not rasa)
    if as_json:
        typer.echo(json.dumps(report, indent=2, ensure_ascii=False))
        return
    for key in ("conversations", "conversation_pass_rate", "turns", "turn_pass_rate"):
        typer.echo(f"{key:>24}: {report[key]}")
    for conversation_id, failures in report["failures"].items():
        typer.echo(f"FAIL {conversation_id}: {' | '.join(failures)}")
