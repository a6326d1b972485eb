"""``hotline cluster up``: the production topology on one machine, loopback only.

Two API replicas (each with its own data dir: nothing shared but PostgreSQL and Redis), one
Rasa, two voice workers, and HAProxy (``deploy/haproxy.cfg``, unchanged but for its addresses)
in front of the API (HTTP, checked on /readyz) and of the AudioSocket port (TCP, checked on the
workers' metrics port), every one on a free port. :class:`Cluster` is the same thing as a context
manager, for tests and benchmarks.

    hotline cluster up            # or: bash scripts/cluster.sh; Ctrl-C stops everything
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, TracebackType
from typing import Annotated

import typer

from api.cli.cluster_nodes import (
    Node,
    NodeFailedError,
    api_ready,
    backend_rows,
    backend_states,
    drop_database,
    ensure_database,
    http_ok,
    log_says,
    wait_states,
)
from api.cli.harness import hotline_command
from nlu.runtime import free_port

logger = logging.getLogger(__name__)
REPO = Path(__file__).resolve().parents[2]
HAPROXY_CFG = REPO / "deploy" / "haproxy.cfg"
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/hotline_cluster"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"
SLOTS = 2  # servers per backend in haproxy.cfg; an unused slot points at a closed port
VOICE_MAX_CALLS = 12  # the same cap as the balancer's maxconn for each worker
# the environment a node inherits from whoever started the cluster, besides PATH and the like
KEPT_SETTINGS = frozenset({"HOTLINE_RASA_VENV", "HOTLINE_RASA_PYTHON"})


@dataclass
class ClusterConfig:
    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str = DEFAULT_REDIS_URL
    root: Path = REPO / "var" / "cluster"  # each node's data dir and log live under it
    api_replicas: int = 2
    voice_workers: int = 2
    rasa: bool = True
    rasa_models: Path = REPO / "var" / "rasa-test"  # where the trained model is cached
    settings: dict[str, str] = field(default_factory=dict)  # more HOTLINE_ settings, every node
    drop_database: bool = False  # a throw-away database (tests)
    ready_timeout_s: float = 300.0

    def __post_init__(self) -> None:
        if not 1 <= self.api_replicas <= SLOTS or not 1 <= self.voice_workers <= SLOTS:
            raise ValueError(f"1 to {SLOTS} API replicas and voice workers")


class Cluster:
    """Start with ``with Cluster(config) as cluster:``; every process is stopped on the way
    out, also when the start fails half-way."""

    def __init__(self, config: ClusterConfig | None = None) -> None:
        self.config = config or ClusterConfig()
        self.root = self.config.root.resolve()
        self.lb_port, self.lb_audiosocket_port, self.stats_port = (free_port() for _ in range(3))
        self.api_ports = [free_port() for _ in range(SLOTS)]
        self.voice_ports = [free_port() for _ in range(SLOTS)]
        self.voice_metrics_ports = [free_port() for _ in range(SLOTS)]
        self.rasa_port = free_port()
        self.rasa_api_token = secrets.token_urlsafe(18)
        self.secret_key = secrets.token_urlsafe(32)  # one for all: client hashes must agree
        self.action_token = secrets.token_urlsafe(18)
        self._settings = self.settings_env()
        self.nodes: dict[str, Node] = {}
        self.startup_s: dict[str, float] = {}

    # --- addresses -----------------------------------------------------------------------------
    @property
    def lb_url(self) -> str:
        return f"http://127.0.0.1:{self.lb_port}"

    @property
    def stats_url(self) -> str:
        return f"http://127.0.0.1:{self.stats_port}/stats"

    @property
    def api_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{p}" for p in self.api_ports[: self.config.api_replicas]]

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    @property
    def api_names(self) -> list[str]:
        return [f"api-{i + 1}" for i in range(self.config.api_replicas)]

    @property
    def voice_names(self) -> list[str]:
        return [f"voice-{i + 1}" for i in range(self.config.voice_workers)]

    def settings_env(self) -> dict[str, str]:
        """The HOTLINE_ settings every node shares (production-like, but for the limits)."""
        from api.ratelimit import RULES

        env = {
            "HOTLINE_ENVIRONMENT": "development",
            "HOTLINE_DATABASE_URL": self.config.database_url,
            "HOTLINE_REDIS_URL": self.config.redis_url,
            "HOTLINE_SECRET_KEY": self.secret_key,
            "HOTLINE_RASA_URL": self.rasa_url if self.config.rasa else "",
            "HOTLINE_RASA_ACTION_TOKEN": self.action_token,
            "HOTLINE_RASA_API_TOKEN": self.rasa_api_token,
            "HOTLINE_TRUSTED_PROXY_HOPS": "1",  # HAProxy's X-Forwarded-For
            "HOTLINE_MIGRATE_ON_START": "false",  # `hotline db upgrade` ran once, before
            "HOTLINE_LOG_FORMAT": "json",
            "HOTLINE_VOICE_MAX_CALLS": str(VOICE_MAX_CALLS),
            # tests and benchmarks play many citizens from one address
            **{f"HOTLINE_RATE_LIMIT_{rule.upper()}": "100000/minute" for rule in RULES},
        }
        return {**env, **self.config.settings}

    def _env(self, data_dir: Path, **extra: str) -> dict[str, str]:
        inherited = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("HOTLINE_") or k in KEPT_SETTINGS
        }
        return {
            **inherited,
            **self._settings,
            "HOTLINE_DATA_DIR": str(data_dir),
            "PYTHONUNBUFFERED": "1",  # the voice worker's "AudioSocket on" line, at once
            **extra,
        }

    # --- start and stop ------------------------------------------------------------------------
    def __enter__(self) -> Cluster:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        started = time.monotonic()
        try:
            self._prepare()
            self._define_nodes()
            for node in self.nodes.values():
                node.start()
            for name, node in self.nodes.items():
                self.startup_s[name] = round(node.wait_ready(self.config.ready_timeout_s), 1)
            self.startup_s["balancer_in_rotation"] = round(
                wait_states(self.stats_url, self.expected_states(), 30), 1
            )
        except BaseException:
            self.stop()
            raise
        self.startup_s["total"] = round(time.monotonic() - started, 1)
        logger.info("cluster.ready", extra={"startup_s": self.startup_s})

    def stop(self) -> None:
        """Balancer first (no new traffic), then the API, voice and Rasa nodes."""
        for node in sorted(self.nodes.values(), key=lambda n: n.name != "haproxy"):
            try:
                node.stop()
            except Exception:  # stop the others whatever happens to one
                logger.exception("cluster.node_stop_failed", extra={"node": node.name})
        if self.config.drop_database:
            drop_database(self.config.database_url)

    def _prepare(self) -> None:
        """The database (created, migrated and seeded once), an index built once and copied to
        every node as an image would carry it (so that four processes do not embed the same
        catalogue at once on a small machine), and Rasa's cached model."""
        self.root.mkdir(parents=True, exist_ok=True)
        created = ensure_database(self.config.database_url)
        logger.info("cluster.database", extra={"database_created": created})
        seed = self.root / "seed"
        for args in (("db", "upgrade"), ("kb", "index")):
            self.hotline(*args, data_dir=seed)
        for name in [*self.api_names, *self.voice_names]:
            index = self.root / name / "index"
            shutil.rmtree(index, ignore_errors=True)
            shutil.copytree(seed / "index", index)
        if self.config.rasa:
            self._place_rasa_model()

    def _place_rasa_model(self) -> None:
        from knowledge_base.settings import Settings
        from nlu.runtime import model_path, train

        cached = train(Settings(data_dir=self.root, rasa_dir=self.config.rasa_models))
        target = model_path(Settings(data_dir=self.root, rasa_dir=self.root / "rasa"))
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(cached, target)
            except OSError:  # another file system
                shutil.copy2(cached, target)

    def _define_nodes(self) -> None:
        logs = self.root / "logs"
        for i, name in enumerate(self.api_names):
            port = self.api_ports[i]
            self.nodes[name] = Node(
                name,
                hotline_command("serve", "--host", "127.0.0.1", "--port", str(port)),
                self._env(self.root / name),
                logs / f"{name}.log",
                api_ready(f"http://127.0.0.1:{port}"),
            )
        for i, name in enumerate(self.voice_names):
            command = hotline_command("voice", "serve", "--host", "127.0.0.1")
            command += ["--port", str(self.voice_ports[i])]
            self.nodes[name] = Node(
                name,
                command,
                self._env(
                    self.root / name, HOTLINE_VOICE_METRICS_PORT=str(self.voice_metrics_ports[i])
                ),
                logs / f"{name}.log",
                log_says("AudioSocket on"),
            )
        if self.config.rasa:
            command = hotline_command("rasa", "serve", "--port", str(self.rasa_port))
            self.nodes["rasa"] = Node(
                "rasa",
                [*command, "--api-url", self.lb_url],  # actions through the balancer
                self._env(self.root / "rasa-node", HOTLINE_RASA_DIR=str(self.root / "rasa")),
                logs / "rasa.log",
                http_ok(f"{self.rasa_url}/status?token={self.rasa_api_token}", "model_file"),
            )
        self.nodes["haproxy"] = Node(
            "haproxy",
            # -n: the file's maxconn needs more file descriptors than a shell usually allows
            [
                shutil.which("haproxy") or "/usr/sbin/haproxy",
                "-db",
                "-n",
                "4000",
                "-f",
                str(HAPROXY_CFG),
            ],
            {**os.environ, **self._balancer_env()},
            logs / "haproxy.log",
            http_ok(f"http://127.0.0.1:{self.stats_port}/healthz"),
        )

    def _balancer_env(self) -> dict[str, str]:
        env = {
            "HOTLINE_LB_BIND": "127.0.0.1",
            "HOTLINE_LB_HTTP_PORT": str(self.lb_port),
            "HOTLINE_LB_AUDIOSOCKET_PORT": str(self.lb_audiosocket_port),
            "HOTLINE_LB_STATS_PORT": str(self.stats_port),
        }
        for i in range(SLOTS):
            env[f"HOTLINE_LB_API_{i + 1}"] = f"127.0.0.1:{self.api_ports[i]}"
            env[f"HOTLINE_LB_VOICE_{i + 1}"] = f"127.0.0.1:{self.voice_ports[i]}"
            env[f"HOTLINE_LB_VOICE_{i + 1}_CHECK"] = str(self.voice_metrics_ports[i])
        return env

    def expected_states(self) -> dict[str, str]:
        """Every running node UP at the balancer, an unused slot DOWN."""
        wanted = {}
        for i in range(SLOTS):
            wanted[f"api/api-{i + 1}"] = "UP" if i < self.config.api_replicas else "DOWN"
            wanted[f"voice/voice-{i + 1}"] = "UP" if i < self.config.voice_workers else "DOWN"
        return wanted

    # --- operating it --------------------------------------------------------------------------
    def kill(self, name: str) -> None:
        self.nodes[name].kill()

    def restart(self, name: str) -> float:
        """Start a stopped or killed node again (same ports, same data dir); seconds to ready."""
        node = self.nodes[name]
        if node.alive:
            node.stop()
        node.restarts += 1
        node.start()
        return node.wait_ready(self.config.ready_timeout_s)

    def states(self) -> dict[str, str]:
        return backend_states(self.stats_url)

    def stats_rows(self) -> dict[str, dict[str, str]]:
        return backend_rows(self.stats_url)

    def wait_states(self, wanted: dict[str, str], timeout_s: float) -> float:
        return wait_states(self.stats_url, wanted, timeout_s)

    def hotline(
        self, *args: str, data_dir: Path | None = None, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """A ``hotline`` command with the cluster's settings (raises on failure)."""
        result = subprocess.run(
            hotline_command(*args),
            env=self._env(data_dir or self.root / "cli"),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=self.config.ready_timeout_s,
            check=False,
        )
        if result.returncode != 0:
            raise NodeFailedError(f"hotline {' '.join(args)}: {result.stderr[-2000:]}")
        return result

    def create_user(self, username: str, role: str, password: str) -> None:
        self.hotline(
            "users",
            "create",
            "--username",
            username,
            "--role",
            role,
            "--password-stdin",
            stdin=password + "\n",
        )

    def describe(self) -> dict[str, object]:
        return {
            "http": self.lb_url,
            "audiosocket": f"127.0.0.1:{self.lb_audiosocket_port}",
            "haproxy_stats": self.stats_url,
            "api_replicas": self.api_urls,
            "voice_workers": [f"127.0.0.1:{p}" for p in self.voice_ports[: len(self.voice_names)]],
            "rasa": self.rasa_url if self.config.rasa else None,
            "database": self.config.database_url,
            "redis": self.config.redis_url,
            "logs": str(self.root / "logs"),
            "startup_s": self.startup_s,
        }


# --- the command ---------------------------------------------------------------------------------

cluster_app = typer.Typer(help="A multi-node cluster on this machine.", no_args_is_help=True)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # SIGTERM stops the cluster as Ctrl-C does, through the finally


@cluster_app.command("up")
def up(
    database_url: Annotated[str, typer.Option(help="created if missing")] = DEFAULT_DATABASE_URL,
    redis_url: Annotated[str, typer.Option(help="a Redis database of its own")] = DEFAULT_REDIS_URL,
    root: Annotated[Path, typer.Option(help="data dirs and logs")] = REPO / "var" / "cluster",
    rasa: Annotated[bool, typer.Option(help="run Rasa (else knowledge-base answers)")] = True,
    api_replicas: Annotated[int, typer.Option(min=1, max=SLOTS)] = 2,
    voice_workers: Annotated[int, typer.Option(min=1, max=SLOTS)] = 2,
) -> None:
    """Two API replicas, Rasa, two voice workers and HAProxy on 127.0.0.1; prints the URLs and
    runs until Ctrl-C or SIGTERM, then stops every process."""
    import json

    signal.signal(signal.SIGTERM, _interrupt)
    config = ClusterConfig(
        database_url=database_url,
        redis_url=redis_url,
        root=root,
        rasa=rasa,
        api_replicas=api_replicas,
        voice_workers=voice_workers,
    )
    typer.echo(f"starting the cluster under {root} (this takes a minute or two) …", err=True)
    try:
        with Cluster(config) as cluster:
            typer.echo(json.dumps(cluster.describe(), indent=2))
            typer.echo(
                "staff accounts: HOTLINE_DATABASE_URL=… hotline users create; Ctrl-C stops",
                err=True,
            )
            reported: set[str] = set()
            while True:
                time.sleep(2)
                for name, node in cluster.nodes.items():
                    if not node.alive and name not in reported:
                        reported.add(name)
                        logger.warning("cluster.node_exited", extra={"node": name})
                        typer.echo(f"{name} exited; see {node.log_path}", err=True)
    except KeyboardInterrupt:
        typer.echo("cluster stopped", err=True)
    except NodeFailedError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from exc
