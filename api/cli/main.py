"""The ``hotline`` command line."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from api.cli.cluster import cluster_app
from api.cli.dialogue import dossiers_app, eval_dialogue, rasa_app, retention_app
from api.cli.notifications import notifications_app
from api.cli.staff import users_app
from api.cli.voice import voice_app
from api.logs import configure
from knowledge_base.service import KnowledgeBase
from knowledge_base.settings import get_settings

if TYPE_CHECKING:
    from knowledge_base.evaluation import EvalQuestion
    from knowledge_base.ranking.training import Example, QueryRows
    from knowledge_base.retrieval.searcher import HybridSearcher

app = typer.Typer(
    help="Tổng đài dịch vụ công: service, catalogue and evaluation tools.", no_args_is_help=True
)
kb_app = typer.Typer(help="Catalogue and search index.", no_args_is_help=True)
eval_app = typer.Typer(help="Quality evaluation.", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks against a running server.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema and one-time seeding.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(kb_app, name="kb")
app.add_typer(eval_app, name="eval")
app.add_typer(bench_app, name="bench")
app.add_typer(rasa_app, name="rasa")
app.add_typer(dossiers_app, name="dossiers")
app.add_typer(notifications_app, name="notifications")
app.add_typer(users_app, name="users")
app.add_typer(retention_app, name="retention")
app.add_typer(voice_app, name="voice")
app.add_typer(cluster_app, name="cluster")
eval_app.command("dialogue")(eval_dialogue)

QuestionFormat = Annotated[str, typer.Option("--format", help="dvc-csv | jsonl | faq-titles")]
TrainFiles = Annotated[
    list[str],
    typer.Option(
        "--train", help="FILE[:FORMAT] of extra training questions (repeatable; default jsonl)"
    ),
]


def _knowledge_base() -> KnowledgeBase:
    from knowledge_base.db import check_schema, migrate, setup_lock

    kb = KnowledgeBase(get_settings())
    if kb.settings.migrates_on_start:
        with setup_lock(kb.engine):
            migrate(kb.engine)
    else:
        check_schema(kb.engine)  # production: `hotline db upgrade` is its own step
    return kb


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Migrate the schema to this release and seed an empty database (the sample catalogue,
    if HOTLINE_LOAD_SAMPLE_IF_EMPTY): once per release, before the workers start."""
    from knowledge_base.db import current_revision

    kb = KnowledgeBase(get_settings())
    kb.prepare_database()
    typer.echo(f"schema at {current_revision(kb.engine)}; {kb.procedure_count()} procedures")


@db_app.command("check")
def db_check() -> None:
    """Exit 1 when the schema is not the one this release needs (for readiness scripts)."""
    from knowledge_base.db import SchemaBehindError, check_schema

    try:
        check_schema(KnowledgeBase(get_settings()).engine)
    except SchemaBehindError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(code=1) from exc
    typer.echo("schema is current")


@app.callback()
def _configure(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    configure(verbose, get_settings().log_format)


@app.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: Annotated[int, typer.Option(help="worker processes")] = 1,
) -> None:
    """Run the API (loads the sample catalogue into an empty database, builds the index)."""
    import uvicorn

    kb = _knowledge_base()
    kb.warm_up(progress=True)  # build once here so workers only load it
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # each worker writes its metrics there, so that a scrape of any one sums them all
        folder = kb.settings.data_dir / "metrics"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    uvicorn.run(
        "api.asgi:app",
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        ws_max_size=64 * 1024,  # media-stream messages are small; refuse big ones unread
        # JSON lines: uvicorn's own lines go through the project's formatter too
        log_config=None if kb.settings.log_format == "json" else uvicorn.config.LOGGING_CONFIG,
    )


@kb_app.command("import")
def kb_import(
    paths: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False, readable=True)],
    fmt: Annotated[
        str, typer.Option("--format", help="dvc | bqp | canonical | auto (detect per line)")
    ] = "auto",
    no_index: Annotated[bool, typer.Option("--no-index", help="skip rebuilding the index")] = False,
) -> None:
    """Import catalogue files (JSONL, optionally .gz); idempotent upserts by procedure code."""
    from tqdm import tqdm

    from knowledge_base.db import session_scope
    from knowledge_base.importers.service import (
        ImportReport,
        import_records,
        open_lines,
        parse_lines,
    )
    from knowledge_base.parsing.coverage import coverage_report

    if fmt not in {"dvc", "bqp", "canonical", "auto"}:
        raise typer.BadParameter("--format must be dvc, bqp, canonical or auto")
    source_format: Literal["dvc", "bqp", "canonical"] | None = None if fmt == "auto" else fmt  # type: ignore[assignment]
    kb = _knowledge_base()
    failed = False
    for path in paths:
        report = ImportReport(source=str(path))
        with open_lines(path) as handle, session_scope(kb.engine) as session:
            lines = iter(tqdm(handle, desc=path.name, unit=" lines"))
            import_records(session, parse_lines(lines, source_format), report, path.name)
        typer.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
        failed = failed or bool(report.rejected)
    typer.echo(json.dumps(coverage_report(kb.engine), ensure_ascii=False, indent=2))
    if not no_index:
        kb.ensure_index(progress=True)
    if failed:
        raise typer.Exit(code=1)


@kb_app.command("index")
def kb_index(force: bool = False) -> None:
    """Build the search index if it is missing or stale (or always with --force)."""
    kb = _knowledge_base()
    manifest = kb.ensure_index(force=force, progress=True).manifest
    typer.echo(json.dumps(manifest.__dict__, indent=2))


@kb_app.command("train-ranker")
def kb_train_ranker(
    train: TrainFiles = [],  # noqa: B006 - typer reads the default
    folds: int = 5,
    force: Annotated[bool, typer.Option(help="swap in even a model that scores worse")] = False,
    output: Annotated[
        Path | None, typer.Option(help="write the model here instead of serving it")
    ] = None,
    with_sample: Annotated[
        bool, typer.Option(help="also learn from the same questions over the bundled sample")
    ] = False,
) -> None:
    """Retrain the ranker on staff examples and ``--train`` files (the model shipped in
    ``knowledge_base/data`` is made with ``scripts/train_ranker.sh``)."""
    import tempfile

    from knowledge_base.ranking.pipeline import retrain

    kb = _knowledge_base()
    kb.warm_up()
    others = []
    with tempfile.TemporaryDirectory() as folder:
        if with_sample:
            fresh: dict[str, object] = {"database_url": "", "index_dir": None, "rasa_dir": None}
            fresh |= {"data_dir": Path(folder), "load_sample_if_empty": True}
            sample = KnowledgeBase(type(kb.settings)(**{**kb.settings.model_dump(), **fresh}))
            sample.warm_up()
            others.append(sample)
        report = retrain(kb, _training_files(kb, train), folds, force, output, others)
    typer.echo(report.message)
    typer.echo(json.dumps({"sources": report.info.sources, "cv": report.info.cv}, indent=2))
    if not report.accepted:
        raise typer.Exit(1)


@app.command()
def ask(
    question: str, top_k: int = 5, as_json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """Ask one question and print the answer."""
    from dataclasses import asdict

    kb = _knowledge_base()
    kb.warm_up()
    result = kb.ask(question, top_k)
    if as_json:
        typer.echo(json.dumps(asdict(result), ensure_ascii=False, indent=2))
        return
    typer.echo(result.answer)
    for p in result.procedures:
        typer.echo(f"  {p.score:.4f}  {p.code}  {p.name}")


@eval_app.command("retrieval")
def eval_retrieval(
    questions: Annotated[Path, typer.Option(exists=True, dir_okay=False)],
    fmt: QuestionFormat = "jsonl",
    strip_accents: bool = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    cross_validate: Annotated[
        int, typer.Option(help="K: train the ranker on K-1 folds, score the K-th, in turn")
    ] = 0,
    train: TrainFiles = [],  # noqa: B006 - typer reads the default
    misses: Annotated[int, typer.Option(help="list up to N questions answered wrongly")] = 0,
) -> None:
    """Recall@1/5/10, MRR@10, refusal accuracy and latency of ``ask`` over a question file.

    With ``--cross-validate K`` the ranker is retrained K times (on the catalogue's synthetic
    questions, staff examples, the ``--train`` files and K-1 folds of this file) and each fold is
    scored by a model that never saw it."""
    from knowledge_base.evaluation import evaluate

    kb = _knowledge_base()
    kb.ensure_index(progress=True)
    items = _questions(kb, questions, fmt)
    if cross_validate:
        report = _cross_validated(kb, items, cross_validate, strip_accents, train)
    else:
        report = evaluate(kb, items, strip_accents=strip_accents, misses=misses)
    if as_json:
        typer.echo(json.dumps(report, indent=2))
    else:
        for key, value in report.items():
            typer.echo(f"{key:>24}: {value}")


def _questions(kb: KnowledgeBase, path: Path, fmt: str) -> list[EvalQuestion]:
    from knowledge_base.evaluation import read_questions

    try:
        return read_questions(path, fmt, kb.name_to_code())
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc


def _training_files(kb: KnowledgeBase, specs: list[str]) -> list[Example]:
    from knowledge_base.ranking.training import Example

    examples = []
    known = kb.known_codes()
    for spec in specs:
        path, _, fmt = spec.partition(":")
        if not Path(path).is_file():
            raise typer.BadParameter(f"--train: no such file {path}")
        for item in _questions(kb, Path(path), fmt or "jsonl"):
            codes = tuple(c for c in item.codes if c in known)
            if codes:
                examples.append(Example(item.question, codes, Path(path).name))
    return examples


def _base_rows(
    kb: KnowledgeBase, train: list[str]
) -> tuple[HybridSearcher, list[QueryRows], dict[str, int]]:
    from collections import Counter

    from knowledge_base.db import session_scope
    from knowledge_base.ranking.pipeline import collect, examples_for_training, training_rows
    from knowledge_base.retrieval.searcher import HybridSearcher

    unranked = HybridSearcher(kb.searcher.index, kb.embedder)
    with session_scope(kb.engine) as session:
        examples = examples_for_training(session, _training_files(kb, train))
    typer.echo(f"computing candidates for {len(examples)} training questions …", err=True)
    rows = training_rows(unranked, examples, collect(unranked, examples))
    return unranked, rows, dict(Counter(e.source for e in examples))


def _cross_validated(
    kb: KnowledgeBase, items: list[EvalQuestion], folds: int, strip_accents: bool, train: list[str]
) -> dict[str, Any]:
    from knowledge_base.ranking.pipeline import collect, cross_validate, training_rows
    from knowledge_base.ranking.training import Example

    known = kb.known_codes()
    scored = [
        Example(i.question, tuple(c for c in i.codes if c in known), "evaluated")
        for i in items
        if any(c in known for c in i.codes)
    ]
    unranked, base, _ = _base_rows(kb, train)
    rows = collect(unranked, scored, strip_accents)
    written = rows if not strip_accents else collect(unranked, scored)
    learnt = training_rows(unranked, scored, written)
    report = cross_validate(rows, scored, base, folds, train_rows=learnt)
    report["skipped_unknown_codes"] = len(items) - len(scored)
    report["strip_accents"] = strip_accents
    return report


@bench_app.command("ask")
def bench_ask(
    url: str = "http://127.0.0.1:8000",
    requests: Annotated[int, typer.Option(help="requests per concurrency level")] = 400,
    concurrency: Annotated[list[int], typer.Option(help="client counts")] = [1, 32],  # noqa: B006
    questions: Annotated[Path | None, typer.Option(help="JSONL with a 'q' per line")] = None,
) -> None:
    """Latency (p50/p95) and throughput of POST /api/v1/ask against a running server: each
    distinct question once (cold), then repeated at each concurrency level."""
    import asyncio

    from api.cli.bench import default_questions, run_levels

    texts = (
        default_questions()
        if questions is None
        else [
            json.loads(line)["q"]
            for line in questions.read_text("utf-8").splitlines()
            if line.strip()
        ]
    )
    report = asyncio.run(run_levels(url, texts, requests, concurrency))
    typer.echo(json.dumps(report, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    app()
