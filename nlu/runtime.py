"""Running Rasa from the main service: its own Python 3.10 venv, a model cached by the hash of
the Rasa project, and an endpoints file written from the ``HOTLINE_`` settings."""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import socket
import subprocess
import time
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from sqlalchemy.engine import make_url

from knowledge_base.settings import Settings

logger = logging.getLogger(__name__)
REPO_ROOT = Path(__file__).resolve().parent.parent
RASA_PROJECT = Path(__file__).resolve().parent / "project"
LOCK_FILE = Path(__file__).resolve().parent / "requirements-rasa.lock"


class RasaNotInstalledError(RuntimeError):
    """The Rasa venv is missing; ``bash scripts/setup_rasa.sh`` creates it."""


def free_port() -> int:
    """A free TCP port on the loopback interface (tests and benchmarks start servers on it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rasa_executable() -> Path:
    venv = Path(os.environ.get("HOTLINE_RASA_VENV", REPO_ROOT / ".venv-rasa"))
    executable = venv / "bin" / "rasa"
    if not executable.exists():
        raise RasaNotInstalledError(
            f"Rasa is not installed at {venv}: run 'bash scripts/setup_rasa.sh' (Python 3.10)"
        )
    return executable


def rasa_environment(settings: Settings, serving: bool = False) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        RASA_CACHE_DIRECTORY=str((settings.resolved_rasa_dir / "cache").resolve()),
        RASA_TELEMETRY_ENABLED="false",
        SQLALCHEMY_SILENCE_UBER_WARNING="1",
        TF_CPP_MIN_LOG_LEVEL="2",
        PYTHONPATH=str(RASA_PROJECT),  # the custom tokenizer in components/
    )
    if serving:
        # One turn's DIET inference is tiny: thread pools per op only contend, and several
        # Rasa processes per box share its cores (README, chat capacity).
        env.update(TF_NUM_INTRAOP_THREADS="1", TF_NUM_INTEROP_THREADS="1", OMP_NUM_THREADS="1")
    return env


def project_hash() -> str:
    """Hash of everything training depends on: config, domain, data, components, pins."""
    digest = hashlib.sha256()
    inputs = ["config.yml", "domain.yml", "data/**/*.yml", "components/**/*.py"]
    files = [LOCK_FILE, *sorted(p for pattern in inputs for p in RASA_PROJECT.glob(pattern))]
    for path in files:
        digest.update(path.relative_to(REPO_ROOT).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def models_dir(settings: Settings) -> Path:
    return settings.resolved_rasa_dir / "models"


def model_path(settings: Settings) -> Path:
    return models_dir(settings) / f"hotline-{project_hash()}.tar.gz"


def train(settings: Settings, force: bool = False) -> Path:
    """Train only when the Rasa project changed since the cached model."""
    target = model_path(settings)
    if target.exists() and not force:
        logger.info("rasa.model_cached", extra={"model": str(target)})
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    command = [
        str(rasa_executable()),
        "train",
        "--fixed-model-name",
        target.name.removesuffix(".tar.gz"),
        "--out",
        str(target.parent.resolve()),
    ]
    # Rasa's progress goes to stderr: a command printing a report on stdout keeps it clean
    stderr_fd = 2
    subprocess.run(
        command, cwd=RASA_PROJECT, env=rasa_environment(settings), check=True, stdout=stderr_fd
    )
    return target


REDIS_TRACKER_STORE = "components.tracker_store.OneSessionRedisTrackerStore"


def endpoints_yaml(settings: Settings, api_url: str) -> str:
    """Action webhook on the API; tracker and locks in Redis where there is one, else the
    tracker in the project's database and the locks in the Rasa process."""
    webhook = api_url.rstrip("/") + "/api/v1/rasa/webhook"
    # selective domain: our actions read the tracker only, so Rasa does not serialise the
    # whole domain into every action call
    lines = ["action_endpoint:", f'  url: "{webhook}"', "  enable_selective_domain: true"]
    if settings.rasa_action_token:
        lines.append(f'  token: "{settings.rasa_action_token}"')
    if settings.redis_url:
        redis = urlsplit(settings.redis_url)
        server = [
            f'  url: "{redis.hostname or "127.0.0.1"}"',
            f"  port: {redis.port or 6379}",
            f"  db: {redis.path.strip('/') or 0}",
            *([f'  password: "{redis.password}"'] if redis.password else []),
        ]
        # Redis unreachable: the turn fails fast and the chat answers degraded
        server.append("  socket_timeout: 2")
        # the tracker beside the locks: one read and one write a turn instead of SQL queries,
        # and it expires with the web chat (retention has nothing of it to erase)
        expiry_s = settings.chat_session_idle_minutes * 60
        lines += ["tracker_store:", f"  type: {REDIS_TRACKER_STORE}", *server]
        lines += ["  key_prefix: hotline", f"  record_exp: {expiry_s}"]
        lines += ["lock_store:", "  type: redis", *server, '  key_prefix: "hotline"']
        return "\n".join(lines) + "\n"
    url = make_url(settings.database_url)
    lines += ["tracker_store:", "  type: SQL"]
    if url.get_backend_name() == "sqlite":
        lines += ["  dialect: sqlite", f'  db: "{Path(url.database or "").resolve()}"']
    else:
        lines += [
            "  dialect: postgresql",
            f'  url: "{url.host or "127.0.0.1"}"',
            f"  port: {url.port or 5432}",
            f'  db: "{url.database}"',
            f'  username: "{url.username or ""}"',
            f'  password: "{url.password or ""}"',
        ]
    return "\n".join(lines) + "\n"


def _write_private(path: Path, text: str) -> None:
    """Readable by the service's own user only: the file carries the action token and the
    database password."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)  # an older file may carry wider permissions
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)


@lru_cache(maxsize=1)
def _process_api_token() -> str:
    return secrets.token_urlsafe(24)


def api_token(settings: Settings) -> str:
    """The token of Rasa's own HTTP API (model, tracker and conversation endpoints): the
    configured one, or one drawn per process when nothing else needs to call that API."""
    return settings.rasa_api_token or _process_api_token()


def serve_command(settings: Settings, port: int, api_url: str) -> list[str]:
    """Write the endpoints file and return the ``rasa run`` command (loopback only)."""
    endpoints = settings.resolved_rasa_dir / "endpoints.yml"
    _write_private(endpoints, endpoints_yaml(settings, api_url))
    return [
        str(rasa_executable()),
        "run",
        "--enable-api",
        # one argument: a token_urlsafe value may begin with "-", which argparse would take
        # for an option and refuse to start
        f"--auth-token={api_token(settings)}",
        "-i",
        "127.0.0.1",
        "-p",
        str(port),
        "--model",
        str(model_path(settings).resolve()),
        "--endpoints",
        str(endpoints.resolve()),
        "--credentials",
        str(RASA_PROJECT / "credentials.yml"),
    ]


def _run_rasa(settings: Settings, *args: str) -> None:
    subprocess.run(
        [str(rasa_executable()), *args],
        cwd=RASA_PROJECT,
        env=rasa_environment(settings),
        check=True,
    )


def evaluate(settings: Settings, out_dir: Path) -> dict[str, object]:
    """``rasa data validate``, then held-out NLU and test stories against the trained model."""
    import json

    _run_rasa(settings, "data", "validate")
    model = str(train(settings).resolve())
    nlu_out, core_out = (out_dir / "nlu").resolve(), (out_dir / "core").resolve()
    _run_rasa(
        settings,
        "test",
        "nlu",
        "--model",
        model,
        "--nlu",
        "tests/nlu_heldout.yml",
        "--out",
        str(nlu_out),
        "--no-plot",
    )
    _run_rasa(
        settings,
        "test",
        "core",
        "--model",
        model,
        "--stories",
        "tests/test_stories.yml",
        "--out",
        str(core_out),
        "--no-plot",
    )
    intents = json.loads((nlu_out / "intent_report.json").read_text(encoding="utf-8"))
    stories = json.loads((core_out / "story_report.json").read_text(encoding="utf-8"))
    failed = (core_out / "failed_test_stories.yml").read_text(encoding="utf-8")
    return {
        "intent_accuracy": round(float(intents["accuracy"]), 4),
        "intent_f1": {
            name: round(float(v["f1-score"]), 3)
            for name, v in intents.items()
            if isinstance(v, dict) and "f1-score" in v and not name.endswith("avg")
        },
        "heldout_examples": int(intents["weighted avg"]["support"]),
        "story_action_accuracy": round(float(stories.get("accuracy", 0.0)), 4),
        "failed_stories": 0
        if "None of the test stories failed" in failed
        else failed.count("- story:"),
    }


class RasaProcess:
    """``rasa run`` on a loopback port, started and stopped by tests and benchmarks."""

    def __init__(self, settings: Settings, port: int, api_url: str) -> None:
        self.settings, self.port, self.api_url = settings, port, api_url
        self.process: subprocess.Popen[bytes] | None = None
        self.startup_s = 0.0

    def start(self, timeout_s: float = 240) -> None:
        command = serve_command(self.settings, self.port, self.api_url)
        log = (self.settings.resolved_rasa_dir / f"rasa-{self.port}.log").open("ab")
        started = time.monotonic()
        self.process = subprocess.Popen(
            command,
            cwd=RASA_PROJECT,
            env=rasa_environment(self.settings, serving=True),
            stdout=log,
            stderr=log,
        )
        status = f"http://127.0.0.1:{self.port}/status?token={api_token(self.settings)}"
        while time.monotonic() - started < timeout_s:
            if self.process.poll() is not None:
                raise RuntimeError(f"rasa exited with {self.process.returncode}; see {log.name}")
            try:
                if httpx.get(status, timeout=2).json().get("model_file"):
                    self.startup_s = time.monotonic() - started
                    return
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(1)
        self.stop()
        raise TimeoutError(f"rasa did not load its model within {timeout_s}s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)
        self.process = None
