"""What the bus is watched by (`dsxbus.monitoring`): upstream's alert rules and the Surveyor dashboard, by namespace."""

from __future__ import annotations

import json
import re
from typing import Any

from dsxbus import monitoring

UPSTREAM_ALERTS = [
    "NATSSurveyorMetricsAbsent",
    "NATSSurveyIncomplete",
    "NATSRepeatedReconnects",
    "NATSSlowConsumers",
    "NATSHighMemoryUsage",
    "NATSRoutePendingData",
]


def _rules(namespace: str = "dsx", team: str = "dsx") -> list[dict[str, Any]]:
    (group,) = monitoring.alert_rules(namespace, team)["groups"]
    rules: list[dict[str, Any]] = group["rules"]
    return rules


def _namespaces(expression: str) -> set[str]:
    return set(re.findall(r'namespace="([^"]*)"', expression))


def test_the_alerts_are_upstreams() -> None:
    assert [rule["alert"] for rule in _rules()] == UPSTREAM_ALERTS


def test_every_alert_reads_only_the_metrics_of_its_bus_namespace() -> None:
    """Two buses in one Prometheus never set off each other's alerts."""
    for rule in _rules("events"):
        assert _namespaces(rule["expr"]) == {"events"}, rule["alert"]


def test_every_alert_carries_a_severity_and_the_team() -> None:
    for rule in _rules(team="ops"):
        assert rule["labels"]["team"] == "ops"
        assert rule["labels"]["severity"] in {"critical", "warning"}


def test_the_dashboard_is_one_per_namespace_and_queries_only_its_metrics() -> None:
    body = json.loads(monitoring.dashboard("events"))
    assert body["uid"] == "dsx-bus-events"
    expressions = [target["expr"] for panel in body["panels"] for target in panel["targets"]]
    assert expressions and all(_namespaces(expr) == {"events"} for expr in expressions)


def test_the_dashboard_panels_do_not_overlap() -> None:
    positions = [(p["gridPos"]["x"], p["gridPos"]["y"]) for p in json.loads(monitoring.dashboard("dsx"))["panels"]]
    assert len(set(positions)) == len(positions)
