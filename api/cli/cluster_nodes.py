"""The pieces of a local cluster (``api/cli/cluster.py``): one child process per node, its
database, and HAProxy's view of its servers."""

from __future__ import annotations

import contextlib
import csv
import io
import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

logger = logging.getLogger(__name__)
STOP_WAIT_S = 15.0


class NodeFailedError(RuntimeError):
    """A node exited or did not become ready in time; the message ends with its log's tail."""


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@dataclass
class Node:
    """One process of the cluster, restartable with the same command, ports and data dir.

    Each runs in a session of its own: a terminal's Ctrl-C reaches the cluster, which stops the
    nodes in order, and a kill reaches a node's children (uvicorn, Rasa) too.
    """

    name: str
    command: list[str]
    env: dict[str, str]
    log_path: Path
    ready: Callable[[Node], bool]
    cwd: Path | None = None
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restarts: int = field(default=0)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        if self.alive:
            raise RuntimeError(f"{self.name} is already running")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"--- start {time.strftime('%H:%M:%S')} ---\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                self.command,
                env=self.env,
                cwd=self.cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.started_at = time.monotonic()
        logger.info("cluster.node_started", extra={"node": self.name, "pid": self.process.pid})

    def wait_ready(self, timeout_s: float) -> float:
        """Seconds from start to ready; raises when the process exits or the time runs out."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.alive:
                code = self.process.returncode if self.process is not None else None
                raise NodeFailedError(f"{self.name} exited with {code}:\n{log_tail(self.log_path)}")
            if self.ready(self):
                return time.monotonic() - self.started_at
            time.sleep(0.25)
        raise NodeFailedError(
            f"{self.name} not ready within {timeout_s:.0f}s:\n{log_tail(self.log_path)}"
        )

    def _signal(self, signum: int) -> None:
        """To the node's whole process group, only while its leader is alive (and unreaped), so
        the group id cannot belong to anything else by then."""
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signum)

    def kill(self) -> None:
        """SIGKILL, as a crash or an OOM kill would: nothing gets to clean up."""
        if self.alive:
            self._signal(signal.SIGKILL)
        if self.process is not None:
            self.process.wait(timeout=STOP_WAIT_S)
        logger.info("cluster.node_killed", extra={"node": self.name})

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after ``STOP_WAIT_S``; reaps the process."""
        if self.process is None:
            return
        if self.alive:
            self._signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_WAIT_S)
            except subprocess.TimeoutExpired:
                logger.warning("cluster.node_stop_timeout", extra={"node": self.name})
                self._signal(signal.SIGKILL)
                self.process.wait(timeout=STOP_WAIT_S)
        else:
            self.process.wait(timeout=STOP_WAIT_S)


# --- readiness probes --------------------------------------------------------------------------


def http_ok(url: str, key: str | None = None) -> Callable[[Node], bool]:
    """Ready when ``url`` answers 200 (and, with ``key``, a JSON body where it is truthy)."""

    def probe(_: Node) -> bool:
        try:
            response = httpx.get(url, timeout=2)
        except httpx.HTTPError:
            return False
        if response.status_code != 200:
            return False
        if key is None:
            return True
        try:
            return bool(response.json().get(key))
        except ValueError:
            return False

    return probe


def api_ready(url: str) -> Callable[[Node], bool]:
    def probe(_: Node) -> bool:
        try:
            return bool(httpx.get(f"{url}/readyz", timeout=2).json().get("status") == "ready")
        except (httpx.HTTPError, ValueError):
            return False

    return probe


def log_says(marker: str) -> Callable[[Node], bool]:
    """Ready once the node's log has ``marker`` after its latest start."""

    def probe(node: Node) -> bool:
        try:
            text_ = node.log_path.read_text(errors="replace")
        except OSError:
            return False
        return marker in text_.rsplit("--- start ", 1)[-1]

    return probe


# --- the database -------------------------------------------------------------------------------


def _admin_engine(url: str) -> tuple[str, Engine]:
    parsed = make_url(url)
    if not parsed.drivername.startswith("postgresql"):
        raise ValueError(f"the cluster needs a PostgreSQL URL, not {parsed.drivername}")
    admin = parsed.set(drivername="postgresql+psycopg", database="postgres")
    return str(parsed.database), create_engine(admin, isolation_level="AUTOCOMMIT")


def ensure_database(url: str) -> bool:
    """Create the database of ``url`` unless it exists; True when it was created."""
    name, engine = _admin_engine(url)
    try:
        with engine.connect() as conn:
            found = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            ).scalar()
            if found:
                return False
            conn.execute(text(f'CREATE DATABASE "{name}"'))
            return True
    finally:
        engine.dispose()


def drop_database(url: str) -> None:
    name, engine = _admin_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        engine.dispose()


# --- HAProxy -------------------------------------------------------------------------------------


def backend_rows(stats_url: str) -> dict[str, dict[str, str]]:
    """HAProxy's CSV stats of each server, by ``backend/server`` (``status``, ``scur`` …)."""
    response = httpx.get(f"{stats_url};csv", timeout=2)
    response.raise_for_status()
    rows = csv.DictReader(io.StringIO(response.text.lstrip("# ")))
    return {
        f"{row['pxname']}/{row['svname']}": row
        for row in rows
        if row["svname"] not in {"FRONTEND", "BACKEND"}
    }


def backend_states(stats_url: str) -> dict[str, str]:
    """``{"api/api-1": "UP", "voice/voice-2": "DOWN", …}``."""
    return {name: row["status"] for name, row in backend_rows(stats_url).items()}


def wait_states(stats_url: str, wanted: dict[str, str], timeout_s: float) -> float:
    """Seconds until every server in ``wanted`` is in its state: "UP" or "DOWN" exactly, so a
    server on its way (``UP 1/2``) does not count yet."""
    started = time.monotonic()
    states: dict[str, str] = {}
    while time.monotonic() - started < timeout_s:
        with contextlib.suppress(httpx.HTTPError):
            states = backend_states(stats_url)
            if all(states.get(k) == v for k, v in wanted.items()):
                return time.monotonic() - started
        time.sleep(0.1)
    raise NodeFailedError(f"HAProxy states {states} never reached {wanted} in {timeout_s:.0f}s")
