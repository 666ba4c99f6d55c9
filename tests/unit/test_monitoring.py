"""What the bus is watched by (`dsxbus.monitoring`): upstream's alert rules and the Surveyor dashboard, by namespace."""

from __future__ import annotations

import json
import re
from typing import Any

from dsxbus import monitoring
from dsxbus.monitoring import Watched

# Metrics Surveyor exports, from nats-io/nats-surveyor at tag v0.9.7 (the image images.surveyor pins), file
# surveyor/collector_statz.go, `buildDescs`: `nats_core_<name>` from `newName(...)`, `nats_stream_*`,
# `nats_consumer_*` (with --accounts or --jsz), `nats_survey_*`; and surveyor/surveyor.go
# (`nats_survey_nats_reconnects`). Each name was checked against that source text once, by script.
SURVEYOR_METRICS = frozenset(
    {
        f"nats_core_{name}"
        for name in [
            "info",
            "start_time",
            "uptime",
            "mem_bytes",
            "go_memlimit_bytes",
            "core_count",
            "cpu_percentage",
            "connection_count",
            "total_connection_count",
            "active_account_count",
            "subs_count",
            "sent_msgs_count",
            "sent_bytes",
            "recv_msgs_count",
            "recv_bytes",
            "slow_consumer_count",
            "rtt_nanoseconds",
            "route_count",
            "gateway_count",
            "route_sent_msg_count",
            "route_sent_bytes",
            "route_recv_msg_count",
            "route_recv_bytes",
            "route_pending_bytes",
            "jetstream_enabled",
            "jetstream_memstore_size_bytes",
            "jetstream_memstore_used_bytes",
            "jetstream_api_errors",
            "jetstream_server_total_streams",
            "account_count",
            "account_conn_count",
            "account_total_conn_count",
            "account_leaf_count",
            "account_sub_count",
            "account_slow_consumer_count",
            "account_bytes_sent",
            "account_bytes_recv",
            "account_msgs_sent",
            "account_msgs_recv",
            "account_jetstream_memory_used",
            "account_jetstream_stream_count",
        ]
    }
    | {
        f"nats_stream_{name}"
        for name in ["total_messages", "total_bytes", "first_seq", "last_seq", "consumer_count", "subject_count"]
    }
    | {f"nats_consumer_{name}" for name in ["num_ack_pending", "num_redelivered", "num_waiting", "num_pending"]}
    | {
        f"nats_survey_{name}"
        for name in ["surveyed_count", "expected_count", "duration_seconds", "poll_error_count", "nats_reconnects"]
    }
)
# The auth-callout's own counters (/metrics on :9090): /work/shared/research/dsx/INVENTORY.md §3, read from the
# auth-callout's source; its image is not published, so no tag to cite.
AUTH_CALLOUT_METRICS = frozenset({"auth_requests_total", "auth_errors_total", "auth_request_duration_seconds"})
_PROMQL_WORDS = frozenset(
    [
        "sum",
        "max",
        "min",
        "avg",
        "count",
        "by",
        "on",
        "without",
        "and",
        "or",
        "unless",
        "absent",
        "increase",
        "rate",
        "vector",
    ]
)

UPSTREAM_ALERTS = [
    "NATSSurveyorMetricsAbsent",
    "NATSSurveyIncomplete",
    "NATSRepeatedReconnects",
    "NATSSlowConsumers",
    "NATSHighMemoryUsage",
    "NATSRoutePendingData",
]


CSC = Watched("csc", "", ("a", "b"), ("CSC", "LaunchLayer"), mtls=True)
CPC = Watched("cpc", "a", (), ("CSC", "LaunchLayer"))


def _rules(namespace: str = "dsx", team: str = "dsx", watch: Watched = CSC) -> list[dict[str, Any]]:
    (group,) = monitoring.alert_rules(namespace, team, watch)["groups"]
    rules: list[dict[str, Any]] = group["rules"]
    return rules


def _namespaces(expression: str) -> set[str]:
    return set(re.findall(r'namespace="([^"]*)"', expression))


def _metrics(expression: str) -> set[str]:
    """The metric names a PromQL expression reads: identifiers outside label matchers, grouping and range
    selectors that are not PromQL's own words."""
    bare = re.sub(r"\{[^}]*\}|\[[^\]]*\]|(?:by|on|without)\s*\([^)]*\)", " ", expression)
    return {word for word in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", bare) if word not in _PROMQL_WORDS}


def _every_expression() -> list[tuple[str, str]]:
    rules = [(r["alert"], r["expr"]) for watch in (CSC, CPC) for r in _rules(watch=watch)]
    panels = json.loads(monitoring.dashboard("dsx"))["panels"]
    return rules + [(p["title"], t["expr"]) for p in panels for t in p["targets"]]


def test_upstreams_alerts_come_first_unchanged() -> None:
    assert [rule["alert"] for rule in _rules()][: len(UPSTREAM_ALERTS)] == UPSTREAM_ALERTS


def test_every_alert_and_panel_reads_only_metrics_surveyor_or_the_auth_callout_export() -> None:
    """A misspelt metric makes an alert that can never fire: every name is in the exporters' source."""
    for name, expression in _every_expression():
        metrics = _metrics(expression)
        assert metrics, name
        assert metrics <= SURVEYOR_METRICS | AUTH_CALLOUT_METRICS, (name, metrics - SURVEYOR_METRICS)


def test_the_metric_reader_sees_through_matchers_and_grouping() -> None:
    assert _metrics('sum by (account) (a_b{x="y"}[5m]) and on() (c or vector(0)) < 1') == {"a_b", "c"}


def test_on_the_csc_a_missing_leaf_alert_names_each_cpc_by_its_own_account_and_counts_the_shared_ones() -> None:
    rules = [r for r in _rules() if r["alert"] == "NATSCpcLeafsMissing"]
    leafs = {r["labels"]["account"]: r["expr"] for r in rules}
    # Each CPC's leaf lands in its own account on the CSC: one alert each, naming the CPC.
    assert leafs["CPC-a"].endswith("< 1") and leafs["CPC-b"].endswith("< 1")
    assert {r["labels"].get("cpc") for r in rules if r["labels"]["account"].startswith("CPC-")} == {"a", "b"}
    assert leafs["CSC"].endswith("< 1")  # nats-mtls
    assert leafs["LaunchLayer"].endswith("< 2")  # one per CPC
    assert all('nats_core_account_leaf_count{namespace="dsx", account=' in e for e in leafs.values())


def test_on_a_cpc_each_leaf_account_has_its_own_alert_naming_the_cpc() -> None:
    lost = [r for r in _rules(watch=CPC) if r["alert"] == "NATSLeafToCscLost"]
    assert [(r["labels"]["cpc"], r["labels"]["account"]) for r in lost] == [("a", "CSC"), ("a", "LaunchLayer")]


def test_the_csc_watches_each_cpcs_source_streams() -> None:
    lag = {r["labels"]["cpc"]: r["expr"] for r in _rules() if r["alert"] == "NATSStreamSourceLag"}
    assert set(lag) == {"a", "b"}
    assert 'stream=~"MQTT_msgs_cpc_a|MQTT_rmsgs_cpc_a"' in lag["a"]
    assert lag["a"].endswith('account="CPC-a"}) or vector(0)) < 1')  # while that CPC's own leaf is down
    assert not [r for r in _rules(watch=CPC) if r["alert"] == "NATSStreamSourceLag"]


def test_auth_callout_errors_and_its_absence_are_alerts() -> None:
    names = {r["alert"] for r in _rules(watch=CPC)}
    assert {"AuthCalloutErrors", "AuthCalloutDisconnected", "NATSSlowConsumers"} <= names


def test_every_alert_reads_only_the_metrics_of_its_bus_namespace() -> None:
    """Two buses in one Prometheus never set off each other's alerts."""
    for watch in (CSC, CPC):
        for rule in _rules("events", watch=watch):
            assert _namespaces(rule["expr"]) == {"events"}, rule["alert"]


def test_every_alert_and_panel_has_a_dashboard_panel_for_its_metric() -> None:
    panels = json.loads(monitoring.dashboard("dsx"))["panels"]
    shown = set().union(*(_metrics(t["expr"]) for p in panels for t in p["targets"]))
    alerted = set().union(*(_metrics(r["expr"]) for w in (CSC, CPC) for r in _rules(watch=w)))
    assert (
        alerted - {"nats_survey_nats_reconnects", "nats_core_route_pending_bytes", "nats_survey_expected_count"}
        <= shown
    )


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
