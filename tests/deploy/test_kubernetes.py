"""The Kubernetes base (deploy/kubernetes/base): rendered and validated offline against the
bundled schemas (kubernetes-validate), and ``kubectl kustomize`` where present."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.artefacts import (
    K8S_BASE,
    URL_WITH_CREDENTIALS,
    binary,
    by_kind,
    containers,
    env_file,
    is_secret_key,
    load_yaml,
    pod_spec,
    quantity,
    settings_env_keys,
)

# --- Kubernetes ---------------------------------------------------------------------------------


def test_kustomization_lists_every_manifest() -> None:
    listed = set(load_yaml(K8S_BASE / "kustomization.yaml")["resources"])
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
    kubectl = binary("kubectl")
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
        for container in containers(doc):
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
        pod = pod_spec(doc)
        if pod is None:
            continue
        name = doc["metadata"]["name"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        assert pod.get("automountServiceAccountToken") is False, name
        for container in containers(doc):
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


def test_long_runningcontainers_have_probes(k8s: list[dict[str, Any]]) -> None:
    deployments = by_kind(k8s, "Deployment")
    assert set(deployments) == {"hotline-api", "hotline-rasa", "hotline-voice"}
    for name, doc in deployments.items():
        for container in containers(doc, init=False):
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                assert probe in container, f"{name}: {probe}"
    api = containers(deployments["hotline-api"], init=False)[0]
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
    voice = containers(deployments["hotline-voice"], init=False)[0]
    assert voice["livenessProbe"]["httpGet"]["path"] == "/healthz"


@pytest.mark.parametrize(
    ("deployment", "requests", "limits"),
    [
        ("hotline-api", ("500m", "1Gi"), ("2", "2Gi")),
        ("hotline-rasa", ("1", "1.25Gi"), ("1", "2Gi")),
        ("hotline-voice", ("1", "1Gi"), ("2", "2Gi")),
    ],
)
def test_resource_figures(
    k8s: list[dict[str, Any]], deployment: str, requests: tuple[str, str], limits: tuple[str, str]
) -> None:
    container = containers(by_kind(k8s, "Deployment")[deployment], init=False)[0]
    for section, (cpu, memory) in (("requests", requests), ("limits", limits)):
        got = container["resources"][section]
        assert quantity(got["cpu"]) == quantity(cpu), (deployment, section)
        assert quantity(got["memory"]) == quantity(memory), (deployment, section)


def test_autoscalers_and_disruption_budgets(k8s: list[dict[str, Any]]) -> None:
    deployments = by_kind(k8s, "Deployment")
    hpas = by_kind(k8s, "HorizontalPodAutoscaler")
    assert {hpa["spec"]["scaleTargetRef"]["name"] for hpa in hpas.values()} == {
        "hotline-api",
        "hotline-voice",
    }
    for hpa in hpas.values():
        (metric,) = hpa["spec"]["metrics"]
        assert metric["resource"]["name"] == "cpu"
        assert metric["resource"]["target"]["averageUtilization"] == 70
        assert hpa["spec"]["minReplicas"] >= 2
    budgets = by_kind(k8s, "PodDisruptionBudget").values()
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
    (job,) = by_kind(k8s, "Job").values()
    assert "hotline db upgrade" in " ".join(containers(job)[0]["command"])
    for name, doc in by_kind(k8s, "Deployment").items():
        init = doc["spec"]["template"]["spec"]["initContainers"]
        assert any("hotline db check" in " ".join(c["command"]) for c in init), name
    (cron,) = by_kind(k8s, "CronJob").values()
    assert containers(cron)[0]["command"] == ["hotline", "retention", "run"]
    assert cron["spec"]["schedule"].split()[2:] == ["*", "*", "*"], "daily"


def test_services_and_ingress_reach_the_pods(k8s: list[dict[str, Any]]) -> None:
    deployments = by_kind(k8s, "Deployment")
    services = by_kind(k8s, "Service")
    for name, service in services.items():
        selector = service["spec"]["selector"]
        (target,) = [
            doc
            for doc in deployments.values()
            if selector.items() <= doc["spec"]["template"]["metadata"]["labels"].items()
        ]
        port_names = {p["name"] for c in containers(target, init=False) for p in c["ports"]}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in port_names, f"{name}: {port}"
    (ingress,) = by_kind(k8s, "Ingress").values()
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
    policies = by_kind(k8s, "NetworkPolicy")
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
    example = env_file(K8S_BASE / "secret.env.example")
    assert example and all(value == "" for value in example.values())
    assert {"HOTLINE_SECRET_KEY", "HOTLINE_DATABASE_URL", "HOTLINE_REDIS_URL"} <= set(example)
    config = env_file(K8S_BASE / "config.env")
    for key, value in config.items():
        assert not is_secret_key(key), key
        assert not URL_WITH_CREDENTIALS.search(value), key
    settings = settings_env_keys()
    assert not (set(config) | set(example)) - settings
    for resource in load_yaml(K8S_BASE / "kustomization.yaml")["resources"]:
        for doc in yaml.safe_load_all((K8S_BASE / resource).read_text()):
            assert doc["kind"] != "Secret", f"{resource}: Secrets come from the generator"
            for container in containers(doc):
                for var in container.get("env", []):
                    assert not is_secret_key(var["name"]), var["name"]


def test_voice_drain_hook_is_valid_python(k8s: list[dict[str, Any]]) -> None:
    voice = containers(by_kind(k8s, "Deployment")["hotline-voice"], init=False)[0]
    command = voice["lifecycle"]["preStop"]["exec"]["command"]
    assert command[:2] == ["python", "-c"]
    compile(command[2], "preStop", "exec")
    assert "hotline_voice_live_calls" in command[2]
