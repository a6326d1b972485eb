"""Fixtures shared by the deployment tests: the rendered Compose file and Kubernetes base."""

from __future__ import annotations

from typing import Any

import pytest

from tests.deploy.artefacts import DEPLOY, load_yaml, render_base


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_yaml(DEPLOY / "compose.yaml")


@pytest.fixture(scope="module")
def k8s() -> list[dict[str, Any]]:
    return render_base()
