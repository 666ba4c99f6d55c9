"""The CSC's ConfigMaps that grow with its CPCs stay under Kubernetes' 1 MiB, or the preview says so."""

from __future__ import annotations

from typing import Any

from dsxbus import permissions, render, stackfile
from dsxbus.checks import configmaps
from tests.unit.stackconfigs import KEY, csc, only_error

STORE = {"perCpcMaxBytes": 1024}
"""Tiny per-CPC streams, so that hundreds of CPCs fit the default store and only the ConfigMaps are judged."""


def _csc_with_cpcs(count: int, **streams: object) -> dict[str, Any]:
    return csc(
        cpcs={f"c{i}": f"organization/dsx-bus/cpc-c{i}" for i in range(count)},
        mqttStreams={**STORE, **streams},
    )


FLEET_LIMIT = 581
"""The most CPCs a CSC with uplinks fits: permissions.json, one ConfigMap, fills first (the accounts are shared among
nats-accounts-<n> ConfigMaps)."""


def test_one_cpc_more_than_permissions_json_holds_is_an_error_naming_that_config_map_and_the_way_out() -> None:
    problem = only_error(_csc_with_cpcs(FLEET_LIMIT + 1))
    assert problem.key == f"{KEY}.cpcs" and problem.value == f"{FLEET_LIMIT + 1} CPCs"
    assert "the ConfigMap auth-callout-permissions would hold" in problem.fix and "more than the 1048576" in problem.fix
    assert "split the fleet across CSCs" in problem.fix and "mqttStreams.uplinks: false" in problem.fix


def test_a_csc_at_the_fleet_limit_fits_with_uplinks() -> None:
    stackfile.parse(_csc_with_cpcs(FLEET_LIMIT), source="Pulumi.test.yaml")


def test_the_same_fleet_fits_without_uplinks() -> None:
    stackfile.parse(_csc_with_cpcs(FLEET_LIMIT + 1, uplinks=False), source="Pulumi.test.yaml")


def test_300_cpcs_fit_with_uplinks_as_its_accounts_are_shared_among_config_maps() -> None:
    bus, _ = stackfile.parse(_csc_with_cpcs(300), source="Pulumi.test.yaml")
    found = {s.name: s.size for s in configmaps.estimated_sizes(bus)}
    assert list(found) == ["nats-config", "nats-accounts-0", "nats-accounts-1", "auth-callout-permissions"]
    assert found["nats-config"] < 32 * 1024  # what grows with the fleet is elsewhere
    assert max(found.values()) <= configmaps.CONFIGMAP_LIMIT


def test_the_estimate_admits_every_cpcs_next_leaf_key_as_a_deployed_cpc_pre_publishes_one() -> None:
    bus, _ = stackfile.parse(_csc_with_cpcs(3), source="Pulumi.test.yaml")
    with_next = {s.name: s.size for s in configmaps.estimated_sizes(bus)}["auth-callout-permissions"]
    without = len(permissions.render(render.cluster_files(bus).permissions))
    assert with_next > without  # each CPC's leaf entries twice: `leaf-cpc-<id>` and `leaf-cpc-<id>-next`


def test_sizes_past_the_limit_are_refused_and_up_to_it_are_not() -> None:
    bus, _ = stackfile.parse(_csc_with_cpcs(1), source="Pulumi.test.yaml")
    at, past = configmaps.CONFIGMAP_LIMIT, configmaps.CONFIGMAP_LIMIT + 1
    assert configmaps.problems(bus, (configmaps.ConfigMapSize("nats-accounts-0", at),)) == []
    (problem,) = configmaps.problems(bus, (configmaps.ConfigMapSize("auth-callout-permissions", past),))
    assert "the ConfigMap auth-callout-permissions would hold 1048577 bytes" in problem.fix
