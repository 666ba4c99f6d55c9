"""What the bus is watched by: Prometheus alert rules (INVENTORY §7) and a Grafana dashboard over Surveyor's metrics."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from dsxbus import naming
from dsxbus.config import EventBus
from dsxbus.topology import SOURCED_KINDS, cpc_source_stream

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


_Rule = tuple[str, str, str, str, dict[str, str], str]
"""dsx-bus's own rules: (alert, expression, for, severity, extra labels, summary annotation)."""


@dataclass(frozen=True)
class Watched:
    """What one cluster's alerts watch beyond upstream's: its leaf connections and the CPCs' stream sources."""

    cluster_type: str = "csc"
    cluster_id: str = ""
    """CPC only: names the CPC in the alerts' `cpc` label."""
    cpc_ids: tuple[str, ...] = ()
    """CSC only: the CPCs whose leafs and source streams it serves."""
    leaf_accounts: tuple[str, ...] = (naming.CSC,)
    """The accounts a CPC leaf-connects from its side: CSC (its window, which lands in `CPC-<id>` on the CSC) and
    every enabled extra account."""
    mtls: bool = False
    """nats-mtls leaf-connects into the domain account too (one more leaf there)."""


def watched(bus: EventBus) -> Watched:
    return Watched(
        bus.cluster_type,
        bus.cluster_id or "",
        bus.cpc_ids,
        (naming.CSC, *bus.enabled_extra_accounts),
        bus.mtls.enabled,
    )


def _leafs(ns: str, account: str) -> str:
    # Surveyor asks accstatz with include_unused, but a server that never saw the account has no series: count
    # nothing as 0 so that the alert fires instead of going silent.
    return f'(sum(nats_core_account_leaf_count{{namespace="{ns}", account="{account}"}}) or vector(0))'


def _leaf_alerts(ns: str, watch: Watched) -> list[_Rule]:
    if watch.cluster_type == "cpc":
        return [
            (
                "NATSLeafToCscLost",
                f"{_leafs(ns, account)} < 1",
                "2m",
                "critical",
                {"cpc": watch.cluster_id, "account": account},
                f"CPC {watch.cluster_id} has no leaf connection to the CSC in account {account}: nothing crosses "
                "between them. Run `dsx-bus doctor` for the reason (credentials, endpoint, TLS).",
            )
            for account in watch.leaf_accounts
        ]
    if not watch.cpc_ids:
        return []
    # Each CPC's leaf lands in its own account on the CSC (naming.cpc_account): one rule per CPC names it. Extra
    # accounts are shared: one leaf per CPC there. nats-mtls's leaf lands in the CSC account.
    # (account, leafs expected there, whose they are, the CPC it names)
    expected: list[tuple[str, int, str, str | None]] = [
        (naming.cpc_account(cpc), 1, f"CPC {cpc}", cpc) for cpc in watch.cpc_ids
    ]
    shared = f"one per CPC: {', '.join(watch.cpc_ids)}"
    expected += [
        (account, len(watch.cpc_ids), shared, None) for account in watch.leaf_accounts if account != naming.CSC
    ]
    if watch.mtls:
        expected.append((naming.CSC, 1, "nats-mtls", None))
    alerts = []
    for account, count, who, cpc in expected:
        alerts.append(
            (
                "NATSCpcLeafsMissing",
                f"{_leafs(ns, account)} < {count}",
                "2m",
                "critical",
                {"account": account, **({"cpc": cpc} if cpc else {})},
                f"fewer than {count} leaf connection(s) in account {account} ({who}). "
                "`dsx-bus doctor` names the missing CPC.",
            )
        )
    return alerts


def _source_alerts(ns: str, watch: Watched) -> list[_Rule]:
    # Surveyor exports no per-source lag (collector_statz.go at v0.9.7 has none) and the CPC's source consumer is
    # hidden from jsz (measured: `consumer_detail` is empty on the per-CPC streams). What it does export: messages
    # still arriving in a CPC's source stream on the CSC while a CPC leaf is missing wait there, unsourced, until
    # the leaf is back. `dsx-bus doctor` reads the exact lag of every source from jsz.
    if watch.cluster_type != "csc" or not watch.cpc_ids:
        return []
    alerts = []
    for cpc in watch.cpc_ids:
        streams = "|".join(cpc_source_stream(kind, cpc) for kind in SOURCED_KINDS)
        alerts.append(
            (
                "NATSStreamSourceLag",
                f'sum(increase(nats_stream_last_seq{{namespace="{ns}", account="{naming.SOURCES}", '
                f'stream=~"{streams}"}}[10m])) > 0 and on() {_leafs(ns, naming.cpc_account(cpc))} < 1',
                "5m",
                "warning",
                {"cpc": cpc},
                f"MQTT messages for CPC {cpc} keep arriving in its source streams on the CSC ({streams}) while a "
                f"its leaf is down: they wait there until it is back. `dsx-bus doctor` shows each source's lag.",
            )
        )
    return alerts


def _callout_alerts(ns: str) -> list[_Rule]:
    # auth_errors_total: the auth-callout's own counter (INVENTORY §3, read from its source; served on :9090 and
    # scraped by its ServiceMonitor). AUTHX: the account the auth-callout signs in to (topology.auth_accounts).
    return [
        (
            "AuthCalloutErrors",
            f'sum(increase(auth_errors_total{{namespace="{ns}"}}[10m])) > 0',
            "5m",
            "warning",
            {},
            "the auth-callout failed to answer sign-ins (errors, not refused credentials): clients and leafs "
            "cannot connect. See its logs.",
        ),
        (
            "AuthCalloutDisconnected",
            f'(sum(nats_core_account_conn_count{{namespace="{ns}", account="{naming.AUTHX}"}}) or vector(0)) < 1',
            "2m",
            "critical",
            {},
            "no auth-callout is connected to NATS (account AUTHX is empty): every new connection is refused.",
        ),
    ]


def alert_rules(namespace: str, team: str, watch: Watched | None = None) -> dict[str, Any]:
    """A PrometheusRule's spec: upstream's alerts, then dsx-bus's (leafs, stream sources, auth-callout), each on
    this bus's namespace only, labelled for `team`."""
    ns = namespace
    ours = _leaf_alerts(ns, watch or Watched()) + _source_alerts(ns, watch or Watched()) + _callout_alerts(ns)
    rules: list[dict[str, Any]] = [
        {
            "alert": name,
            "expr": expr.format(ns=namespace),
            "for": duration,
            "labels": {"severity": severity, "team": team},
        }
        for name, expr, duration, severity in _ALERTS
    ]
    rules += [
        {
            "alert": name,
            "expr": expr,
            "for": duration,
            "labels": {"severity": severity, "team": team, **labels},
            "annotations": {"summary": summary},
        }
        for name, expr, duration, severity, labels, summary in ours
    ]
    return {"groups": [{"name": "nats-event-bus.rules", "interval": "30s", "rules": rules}]}


def dashboard(namespace: str) -> str:
    """A small Surveyor dashboard over the alerted metrics (upstream's JSON body is not vendored here)."""
    ns = namespace
    panels = [
        ("Servers surveyed / expected", f'nats_survey_surveyed_count{{namespace="{ns}"}}'),
        ("Connections", f'sum by (server_name) (nats_core_connection_count{{namespace="{ns}"}})'),
        ("Slow consumers", f'sum by (server_cluster) (nats_core_slow_consumer_count{{namespace="{ns}"}})'),
        (
            "Memory / GOMEMLIMIT",
            f'nats_core_mem_bytes{{namespace="{ns}"}} / nats_core_go_memlimit_bytes{{namespace="{ns}"}}',
        ),
        ("Leaf connections by account", f'sum by (account) (nats_core_account_leaf_count{{namespace="{ns}"}})'),
        (
            "CPC source streams (last sequence)",
            f'max by (stream) (nats_stream_last_seq{{namespace="{ns}", account="{naming.SOURCES}"}})',
        ),
        ("Auth-callout errors (10m)", f'sum(increase(auth_errors_total{{namespace="{ns}"}}[10m]))'),
        (
            "Auth-callout connections (AUTHX)",
            f'sum(nats_core_account_conn_count{{namespace="{ns}", account="{naming.AUTHX}"}})',
        ),
        (
            "Slow consumers by account",
            f'sum by (account) (nats_core_account_slow_consumer_count{{namespace="{ns}"}})',
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
