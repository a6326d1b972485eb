"""One cluster (``api.cli.cluster.Cluster``) for the whole module, over a throw-away PostgreSQL
database, and the figures each scenario measures (printed with a ``CLUSTER`` prefix and written
to var/cluster-report.json)."""

from __future__ import annotations

import json
import os
import random
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.cli.cluster import Cluster, ClusterConfig
from tests.conftest import POSTGRES_ADMIN_URL, REPO

REPORT = REPO / "var" / "cluster-report.json"
REDIS_URL = "redis://127.0.0.1:6379/15"
EDITOR, REVIEWER, PASSWORD = "cluster-editor", "cluster-reviewer", "cluster-password-0123"
MAX_FAILURES = 3  # HOTLINE_DOSSIER_MAX_FAILURES of the cluster


def _haproxy() -> str | None:
    return shutil.which("haproxy") or (
        "/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None
    )


@pytest.fixture(scope="module")
def report() -> Iterator[dict[str, Any]]:
    figures: dict[str, Any] = {}
    yield figures
    if figures:
        REPORT.parent.mkdir(parents=True, exist_ok=True)
        figures["written_at"] = time.strftime("%Y-%m-%d %H:%M:%S")
        REPORT.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n")


def record(report: dict[str, Any], scenario: str, **values: Any) -> None:
    report.setdefault(scenario, {}).update(values)
    print(f"CLUSTER {scenario}: {json.dumps(values, ensure_ascii=False)}")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, report: dict[str, Any]) -> Iterator[Cluster]:
    from nlu.runtime import RasaNotInstalledError, rasa_executable

    if _haproxy() is None:
        pytest.skip("haproxy is not installed (bash scripts/setup_ops.sh)")
    try:
        rasa_executable()
    except RasaNotInstalledError as exc:
        if os.environ.get("HOTLINE_REQUIRE_RASA") == "1":
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    database = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/hotline_cluster_{uuid.uuid4().hex[:8]}"
    config = ClusterConfig(
        database_url=database,
        redis_url=REDIS_URL,
        root=tmp_path_factory.mktemp("cluster"),
        settings={"HOTLINE_DOSSIER_MAX_FAILURES": str(MAX_FAILURES)},
        drop_database=True,
        ready_timeout_s=240,
    )
    with Cluster(config) as running:
        record(report, "startup", **running.startup_s)
        for name, role in ((EDITOR, "editor"), (REVIEWER, "reviewer")):
            running.create_user(name, role, PASSWORD)
        yield running


# --- helpers the scenarios share ----------------------------------------------------------------


def client_address() -> str:
    """An address of this run's own (through the trusted hop), so that per-client counters left
    in Redis by an earlier run do not count."""
    return f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"


def chat(
    url: str, message: str, session_id: str | None = None, address: str | None = None
) -> dict[str, Any]:
    headers = {"X-Forwarded-For": address} if address else {}
    body = {"session_id": session_id, "message": message}
    response = httpx.post(f"{url}/api/v1/chat", json=body, headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    reply: dict[str, Any] = response.json()
    return reply


def said(reply: dict[str, Any]) -> str:
    return " ".join(m["text"] for m in reply["messages"])


def route_count(url: str, route: str) -> float:
    """Requests a replica has served on ``route`` (its own /metrics; the balancer hides it)."""
    text = httpx.get(f"{url}/metrics", timeout=5).text
    total = 0.0
    for line in text.splitlines():
        if line.startswith("hotline_http_requests_total{") and f'route="{route}"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total
