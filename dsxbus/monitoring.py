"""What the bus is watched by: Prometheus alert rules (INVENTORY §7) and a Grafana dashboard over Surveyor's metrics."""

from __future__ import annotations

import json
from typing import Any

# (alert, expression with {ns} for the namespace filter, for, severity) — upstream's rules, verbatim.
_ALERTS = (
    ("NATSSurveyorMetricsAbsent", 'absent(nats_survey_expected_count{{namespace="{ns}"}})', "10m", "critical"),
    (
        "NATSSurveyIncomplete",
        'nats_survey_surveyed_count{{namespace="{ns}"}} < nats_survey_expected_count{{namespace="{ns}"}}',
        "5m",
        "critical",
    ),
    ("NATSRepeatedReconnects", 'increase(nats_survey_nats_reconnects{{namespace="{ns}"}}[10m]) > 2', "5m", "warning"),
    (
        "NATSSlowConsumers",
        'sum by (server_cluster) (nats_core_slow_consumer_count{{namespace="{ns}"}}) > 0',
        "5m",
        "warning",
    ),
    (
        "NATSHighMemoryUsage",
        '(nats_core_mem_bytes{{namespace="{ns}"}} / nats_core_go_memlimit_bytes{{namespace="{ns}"}} > 0.8) '
        'and nats_core_go_memlimit_bytes{{namespace="{ns}"}} > 0',
        "15m",
        "warning",
    ),
    (
        "NATSRoutePendingData",
        "sum by (server_cluster, server_name, server_id, server_route_name, server_route_name_id) "
        '(nats_core_route_pending_bytes{{namespace="{ns}"}}) > 1048576',
        "10m",
        "warning",
    ),
)


def alert_rules(namespace: str, team: str) -> dict[str, Any]:
    """A PrometheusRule's spec: upstream's alerts, each on this bus's namespace only, labelled for `team`."""
    return {
        "groups": [
            {
                "name": "nats-event-bus.rules",
                "interval": "30s",
                "rules": [
                    {
                        "alert": name,
                        "expr": expr.format(ns=namespace),
                        "for": duration,
                        "labels": {"severity": severity, "team": team},
                    }
                    for name, expr, duration, severity in _ALERTS
                ],
            }
        ]
    }


def dashboard(namespace: str) -> str:
    """A small Surveyor dashboard over the alerted metrics (upstream's JSON body is not vendored here)."""
    panels = [
        ("Servers surveyed / expected", f'nats_survey_surveyed_count{{namespace="{namespace}"}}'),
        ("Connections", f'sum by (server_name) (nats_core_connection_count{{namespace="{namespace}"}})'),
        ("Slow consumers", f'sum by (server_cluster) (nats_core_slow_consumer_count{{namespace="{namespace}"}})'),
        (
            "Memory / GOMEMLIMIT",
            f'nats_core_mem_bytes{{namespace="{namespace}"}} / nats_core_go_memlimit_bytes{{namespace="{namespace}"}}',
        ),
    ]
    body = {
        "title": "DSX Event Bus (NATS Surveyor)",
        "uid": f"dsx-bus-{namespace}",
        "schemaVersion": 39,
        "panels": [
            {
                "id": i + 1,
                "type": "timeseries",
                "title": title,
                "targets": [{"expr": expr, "refId": "A"}],
                "gridPos": {"x": (i % 2) * 12, "y": (i // 2) * 8, "w": 12, "h": 8},
            }
            for i, (title, expr) in enumerate(panels)
        ],
    }
    return json.dumps(body, indent=2, sort_keys=True)
