"""Prometheus alerts (INVENTORY §7), the Grafana dashboard ConfigMap and NACK's PodMonitor."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.secrets import LABELS
from dsxbus.config import EventBus

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


@dataclass(frozen=True)
class MonitoringArgs:
    namespace: pulumi.Input[str]
    bus: EventBus


class Monitoring(pulumi.ComponentResource):
    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("dsx-bus:monitoring:Monitoring", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        bus, ns = args.bus, args.namespace
        plain_ns = bus.namespace  # the same name; the Input carries the dependency on the Namespace
        monitoring = bus.monitoring
        if monitoring.alerts.enabled:
            k8s.apiextensions.CustomResource(
                f"{name}-alerts",
                api_version="monitoring.coreos.com/v1",
                kind="PrometheusRule",
                metadata={"name": f"{bus.release_name}-alerts", "namespace": ns, "labels": LABELS},
                spec=alert_rules(plain_ns, monitoring.alerts.team),
                opts=child,
            )
        if monitoring.grafana_dashboard.enabled:
            k8s.core.v1.ConfigMap(
                f"{name}-dashboard",
                metadata={
                    "name": f"{bus.release_name}-surveyor-dashboard",
                    "namespace": ns,
                    "labels": {**LABELS, **monitoring.grafana_dashboard.labels},
                    "annotations": dict(monitoring.grafana_dashboard.annotations),
                },
                data={"nats-surveyor.json": dashboard(plain_ns)},
                opts=child,
            )
        if monitoring.service_monitors:
            k8s.apiextensions.CustomResource(
                f"{name}-nack-podmonitor",
                api_version="monitoring.coreos.com/v1",
                kind="PodMonitor",
                metadata={"name": "nack", "namespace": ns, "labels": LABELS},
                spec={
                    "selector": {"matchLabels": {"app": "nack"}},
                    "podMetricsEndpoints": [
                        {
                            "path": "/metrics",
                            "interval": "30s",
                            "scrapeTimeout": "10s",
                            # NACK serves metrics on :8080 without declaring the port: scrape the pod IP.
                            "relabelings": [
                                {
                                    "sourceLabels": ["__meta_kubernetes_pod_ip"],
                                    "targetLabel": "__address__",
                                    "regex": "(.+)",
                                    "replacement": "$1:8080",
                                }
                            ],
                        }
                    ],
                },
                opts=child,
            )
        self.register_outputs(
            {
                "alerts": monitoring.alerts.enabled,
                "grafanaDashboard": monitoring.grafana_dashboard.enabled,
                "podMonitor": monitoring.service_monitors,
            }
        )
