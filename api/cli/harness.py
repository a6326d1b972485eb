"""What the benchmarks and evaluations share: the API (and Rasa behind it) as child processes
on loopback ports, their memory, and latency percentiles."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from knowledge_base.settings import Settings
from nlu.runtime import RasaProcess, free_port, train


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (uvicorn workers), in MiB."""
    total = 0
    for status in _proc_files(pid, "status"):
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return round(total / 1024, 1)


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process and its children (uvicorn workers, and the
    espeak-ng runs a voice worker has waited for), in seconds."""
    total = 0
    for stat in _proc_files(pid, "stat"):
        fields = stat.rpartition(")")[2].split()  # the name in brackets may hold spaces
        total += sum(int(f) for f in fields[11:15])  # utime, stime, and of ended children
    return total / os.sysconf("SC_CLK_TCK")


def _proc_files(pid: int, name: str) -> Iterator[str]:
    """``/proc/<pid>/<name>`` of a process and of its children; one that has exited is skipped."""
    for process in [pid, *_children(pid)]:
        try:
            yield Path(f"/proc/{process}/{name}").read_text()
        except OSError:
            continue


def _children(pid: int) -> list[int]:
    try:
        found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    return [int(child) for child in found]


def wait_ready(url: str, timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).json().get("status") == "ready":
                return
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.5)
    raise TimeoutError("API not ready")


def hotline_command(*args: str) -> list[str]:
    return [str(Path(sys.executable).with_name("hotline")), *args]


@contextmanager
def served_api(env: dict[str, str], workers: int = 1) -> Iterator[tuple[str, int]]:
    """``hotline serve`` with ``env`` on a free loopback port: (its URL, its pid)."""
    port = free_port()
    command = hotline_command("serve", "--port", str(port), "--workers", str(workers))
    process = subprocess.Popen(
        command,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url)
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


@contextmanager
def rasa_servers(settings: Settings, api_url: str, ports: list[int]) -> Iterator[list[RasaProcess]]:
    """One ``rasa run`` per port (the model trained first if its files changed), all calling
    the actions at ``api_url``; stopped on exit."""
    train(settings)
    with ExitStack() as stack:
        servers = []
        for port in ports:
            server = RasaProcess(settings, port, api_url)
            server.start()
            stack.callback(server.stop)
            servers.append(server)
        yield servers


@dataclass(frozen=True)
class DialogueStack:
    api_url: str
    rasa_url: str  # empty when the API answers degraded
    pids: list[int]


@contextmanager
def served_dialogue(env: dict[str, str], rasa_dir: Path | None) -> Iterator[DialogueStack]:
    """The API with ``env`` and, given a Rasa model folder, one Rasa process behind it (else
    the API answers degraded, from the knowledge base alone)."""
    env = dict(env)
    rasa_port = free_port()
    env["HOTLINE_RASA_URL"] = f"http://127.0.0.1:{rasa_port}" if rasa_dir else ""
    if rasa_dir is not None:
        env["HOTLINE_RASA_DIR"] = str(rasa_dir)
    with ExitStack() as stack:
        api_url, api_pid = stack.enter_context(served_api(env))
        pids = [api_pid]
        if rasa_dir is not None:
            settings = Settings(
                data_dir=Path(env["HOTLINE_DATA_DIR"]),
                rasa_url=env["HOTLINE_RASA_URL"],
                rasa_dir=rasa_dir,
            )
            servers = stack.enter_context(rasa_servers(settings, api_url, [rasa_port]))
            pids += [s.process.pid for s in servers if s.process is not None]
        yield DialogueStack(api_url, env["HOTLINE_RASA_URL"], pids)
