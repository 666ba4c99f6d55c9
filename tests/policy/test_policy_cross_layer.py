"""Cross-layer lists: the measured rule (`crosslayer.check`, docs/measured-facts.md §2) wherever a stack has them."""

from __future__ import annotations

import copy
from typing import Any

import pulumi

from tests.policy import analyzer, programs
from tests.policy.analyzer import Capture, Diagnostic
from tests.program import harness

CONFIG = analyzer.example_config()
DEPLOYED = "cross-layer-lists-disjoint"
EXPORTED = "cross-layer-exports-disjoint"
DOUBLE = "cross-layer-double-route"
NOAUTH = ("noauth-disabled", "ADVISORY", "cpc-b-auth-callout-permissions")


def _cpc_b_with(lists: dict[str, list[str]], csc_first: Capture) -> Capture:
    bus = copy.deepcopy(harness.stack_config("cpc-b")["dsx-bus:eventBus"])
    bus["crossLayer"] = lists
    return analyzer.capture(
        lambda: programs.bypassing_the_model(bus),
        stack="cpc-b",
        config=harness.stack_config("cpc-b"),
        stack_outputs={programs.CSC_REF: csc_first.exports},
    )


def _release(accounts: dict[str, Any]) -> list[Diagnostic]:
    return analyzer.analyze(analyzer.capture(lambda: programs.nats_release(accounts)), CONFIG)


def test_overlapping_lists_through_the_real_components_fail_on_the_chart_and_on_the_exported_lists(
    csc_first: Capture,
) -> None:
    lists = {
        "cscExports": ["broadcast.>"],
        "cscPrefixedExports": ["command.>", "x.>"],
        "cpcExports": ["sensor.>", "x.>"],
    }
    found = analyzer.analyze(_cpc_b_with(lists, csc_first), CONFIG)
    assert analyzer.summary(found) == [
        (EXPORTED, "MANDATORY", "cpc-b"),
        (DEPLOYED, "MANDATORY", "cpc-b-nats-nats"),
        NOAUTH,
    ]
    chart = analyzer.only(found, DEPLOYED)
    assert chart.message == (
        "Chart nats (cpc-b-nats-nats) values.config.merge.accounts, CPC 'b': cscPrefixedExports[1] 'x.>' overlaps "
        "cpcExports[1] 'x.>' (both match 'x.x'): nats-server rejects every config load ('import forms a cycle'): "
        "the CPC's NATS never starts. Fix: remove one of the two, or narrow them so that no subject matches both. "
        "Lists: cscExports ['broadcast.>'], cscPrefixedExports ['command.>', 'x.>'], cpcExports ['sensor.>', 'x.>']."
    )
    exported = analyzer.only(found, EXPORTED)
    assert exported.message.startswith("dsx-bus:cpc:CpcEventBus cpc-b output crossLayer (CPC 'b'): cscPrefixedExports")


def test_a_wildcard_only_overlap_in_hand_written_accounts_is_mandatory() -> None:
    # Measured case e1: csc a.*.c vs cpc a.b.* share only a.b.c, and nats-server refuses ~1 load in 8.
    found = _release(programs.cpc_accounts("1", ["a.*.c"], [], ["a.b.*"]))
    assert analyzer.summary(found) == [(DEPLOYED, "MANDATORY", "nats")]
    assert "cscExports[0] 'a.*.c' overlaps cpcExports[0] 'a.b.*' (both match 'a.b.c')" in found[0].message
    assert "rejects about 1 config load in 8" in found[0].message and "crash-loop at random" in found[0].message


def test_a_star_pattern_overlapping_a_literal_subject_is_mandatory() -> None:
    found = _release(programs.cpc_accounts("1", [], ["sensor.*"], ["sensor.temp"]))
    assert analyzer.summary(found) == [(DEPLOYED, "MANDATORY", "nats"), (DEPLOYED, "MANDATORY", "nats")]
    messages = sorted(d.message for d in found)
    assert "cscPrefixedExports[0] 'sensor.*' has '*': NACK rejects the $MQTT_msgs and $MQTT_rmsgs" in messages[0]
    assert "no QoS 1 or retained message reaches this CPC" in messages[0]
    assert "'sensor.*' overlaps cpcExports[0] 'sensor.temp' (both match 'sensor.temp')" in messages[1]
    assert "never starts" in messages[1]


def test_a_full_wildcard_export_collides_with_the_generated_routing() -> None:
    found = _release(programs.cpc_accounts("1", ["broadcast.>"], [], [">"]))
    assert analyzer.summary(found) == [(DEPLOYED, "MANDATORY", "nats")]
    assert "cpcExports[0] '>' collides with the cpc.<id>.> subjects dsx-bus generates" in found[0].message


def test_overlapping_entries_within_one_list_duplicate_messages() -> None:
    found = _release(programs.cpc_accounts("1", ["a.>", "a.b"], [], []))
    assert analyzer.summary(found) == [(DEPLOYED, "MANDATORY", "nats")]
    assert "cscExports[1] 'a.b' overlaps cscExports[0] 'a.>' (both match 'a.b'): each CPC receives every" in (
        found[0].message
    )


def test_disjoint_hand_written_lists_pass() -> None:
    assert _release(programs.cpc_accounts("1", ["a.b"], ["a.c"], ["a.*.d"])) == []


def test_a_chart_rendered_nats_conf_is_checked_like_chart_values() -> None:
    # What a real engine analyzes for a helm.v4 Chart: its rendered children, among them ConfigMap nats-config.
    bus = {
        "clusterType": "cpc",
        "clusterId": "a",
        "cscEndpoint": "nats://leaf.example.com:7422",
        "crossLayer": {"cscExports": ["x.>"], "cpcExports": ["x.>"]},
        "authCallout": {"image": "x:1"},
    }
    text = programs.chart_rendered_nats_conf(bus)
    found = analyzer.analyze(
        analyzer.capture(lambda: programs.config_map("nats-config", "nats-config", {"nats.conf": text})),
        CONFIG,
    )
    assert analyzer.summary(found) == [(DEPLOYED, "MANDATORY", "nats-config")]
    assert found[0].message.startswith(
        "ConfigMap nats-config nats.conf.accounts, CPC 'a': cscExports[0] 'x.>' overlaps cpcExports[0] 'x.>'"
    )


def test_overlapping_fleet_defaults_fail_on_the_csc_that_exports_them() -> None:
    bus = copy.deepcopy(harness.stack_config("csc")["dsx-bus:eventBus"])
    bus["crossLayer"] = {"cscExports": ["cpc.>"], "cscPrefixedExports": [], "cpcExports": []}
    capture = analyzer.capture(
        lambda: programs.bypassing_the_model(bus), stack="csc", config=harness.stack_config("csc")
    )
    found = [d for d in analyzer.analyze(capture, CONFIG) if d.policy.startswith("cross-layer")]
    assert analyzer.summary(found) == [(EXPORTED, "MANDATORY", "csc")]
    assert found[0].message.startswith(
        "dsx-bus:csc:CscEventBus csc output fleetDefaults.crossLayer (inherited by every CPC that sets none): "
        "cscExports[0] 'cpc.>' collides with the cpc.<id>.> subjects dsx-bus generates"
    )
    assert "870 of 1000 config loads" in found[0].message


class _HandMadeCpc(pulumi.ComponentResource):
    """A component of dsx-bus's CPC type that is not dsx-bus's: only its registered outputs say anything."""

    def __init__(self, cross_layer: dict[str, list[str]]) -> None:
        super().__init__("dsx-bus:cpc:CpcEventBus", "hand-cpc", None, None)
        self.register_outputs({"clusterId": "9", "crossLayer": cross_layer})


def test_exported_lists_are_checked_without_any_chart() -> None:
    lists = {"cscExports": ["a.>"], "cscPrefixedExports": [], "cpcExports": ["a.b"]}
    found = analyzer.analyze(analyzer.capture(lambda: _HandMadeCpc(lists)), CONFIG)
    assert analyzer.summary(found) == [(EXPORTED, "MANDATORY", "hand-cpc")]
    assert "cscExports[0] 'a.>' overlaps cpcExports[0] 'a.b' (both match 'a.b')" in found[0].message


def test_a_subject_routed_both_as_broadcast_and_as_command_is_only_advisory(csc_first: Capture) -> None:
    lists = {"cscExports": ["broadcast.>", "x.>"], "cscPrefixedExports": ["command.>", "x.>"], "cpcExports": []}
    found = analyzer.analyze(_cpc_b_with(lists, csc_first), CONFIG)
    # A stack policy sees outputs, and a helm.v4 Chart's outputs list its children, not its values: the deployed
    # side of this check reads Releases and rendered nats.conf ConfigMaps (next test), as with a real engine.
    assert analyzer.summary(found) == [(DOUBLE, "ADVISORY", "cpc-b"), NOAUTH]
    assert "cscExports[1] 'x.>' overlaps cscPrefixedExports[1] 'x.>' (both match 'x.x'): harmless for NATS" in (
        analyzer.only(found, DOUBLE).message
    )


def test_a_double_route_in_deployed_accounts_is_only_advisory() -> None:
    found = _release(programs.cpc_accounts("1", ["x.>"], ["x.>"], []))
    assert analyzer.summary(found) == [(DOUBLE, "ADVISORY", "nats")]
    assert "each CPC receives 'x.x' from the CSC both as a broadcast and" in found[0].message
