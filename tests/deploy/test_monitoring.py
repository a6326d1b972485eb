"""Alert rules and the Grafana dashboard query only series the processes export."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.deploy.artefacts import (
    COUNTERS,
    DEPLOY,
    GAUGES,
    HISTOGRAMS,
    KNOWN_SERIES,
    load_yaml,
)

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


@pytest.fixture(scope="module")
def alert_rules() -> list[dict[str, Any]]:
    groups = load_yaml(DEPLOY / "monitoring" / "alerts.yaml")["groups"]
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
