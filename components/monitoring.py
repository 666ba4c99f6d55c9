"""Prometheus alerts (INVENTORY §7), the Grafana dashboard ConfigMap and NACK's PodMonitor, as configured."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.secrets import LABELS
from dsxbus.config import Monitoring


@dataclass(frozen=True)
class MonitoringResourcesArgs:
    namespace: pulumi.Input[str]
    release_name: str
    settings: Monitoring
    """Which objects exist (alerts, grafanaDashboard, serviceMonitors) and the dashboard ConfigMap's labels."""
    alert_rules: dict[str, Any]
    """The PrometheusRule's spec (dsxbus.monitoring.alert_rules), created with alerts.enabled."""
    dashboard: str
    """The dashboard's JSON (dsxbus.monitoring.dashboard), created with grafanaDashboard.enabled."""


class MonitoringResources(pulumi.ComponentResource):
    """PrometheusRule, Grafana dashboard ConfigMap and NACK's PodMonitor, each as configured."""

    def __init__(self, name: str, args: MonitoringResourcesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("dsx-bus:monitoring:Monitoring", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        ns, monitoring = args.namespace, args.settings
        if monitoring.alerts.enabled:
            k8s.apiextensions.CustomResource(
                f"{name}-alerts",
                api_version="monitoring.coreos.com/v1",
                kind="PrometheusRule",
                metadata={"name": f"{args.release_name}-alerts", "namespace": ns, "labels": LABELS},
                spec=args.alert_rules,
                opts=child,
            )
        if monitoring.grafana_dashboard.enabled:
            k8s.core.v1.ConfigMap(
                f"{name}-dashboard",
                metadata={
                    "name": f"{args.release_name}-surveyor-dashboard",
                    "namespace": ns,
                    "labels": {**LABELS, **monitoring.grafana_dashboard.labels},
                    "annotations": dict(monitoring.grafana_dashboard.annotations),
                },
                data={"nats-surveyor.json": args.dashboard},
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
