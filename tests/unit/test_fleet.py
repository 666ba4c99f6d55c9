"""Consistency among stack files (`fleet.problems`), what a CPC takes from its CSC (`fleet.inherit_from_csc`, for the
program and the CLI alike) and what each stack sees of the others (`fleet.resolve`).

Each test copies the example stack files into tmp_path and edits one thing with PyYAML.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from dsxbus import fleet, render
from dsxbus.config import CrossLayer, EventBus, FleetDefaults, Jwks
from dsxbus.errors import ConfigError, Problem

ROOT = Path(__file__).resolve().parents[2]
KEY = "dsx-bus:eventBus"
STACKS = ("csc", "cpc-a", "cpc-b")


def _fleet(tmp_path: Path, **edits: Callable[[dict[str, Any]], None]) -> Path:
    """The example stacks in tmp_path; `edits` maps a stack (cpc_a for cpc-a) to a change of its eventBus."""
    for stack in STACKS:
        shutil.copy(ROOT / f"Pulumi.{stack}.yaml", tmp_path / f"Pulumi.{stack}.yaml")
    for name, edit in edits.items():
        path = tmp_path / f"Pulumi.{name.replace('_', '-')}.yaml"
        document = yaml.safe_load(path.read_text())
        edit(document["config"][KEY])
        path.write_text(yaml.safe_dump(document, sort_keys=False))
    return tmp_path


def _problems(project: Path) -> list[Problem]:
    return fleet.problems(fleet.load(project))


def _errors(project: Path) -> list[Problem]:
    return [p for p in _problems(project) if not p.warning]


def test_the_example_fleet_has_no_errors() -> None:
    assert _errors(ROOT) == []


def test_the_example_fleet_has_no_errors_when_copied(tmp_path: Path) -> None:
    assert _errors(_fleet(tmp_path)) == []


def test_a_csc_listing_a_cpc_stack_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    def add_cpc_c(bus: dict[str, Any]) -> None:
        bus["cpcs"]["c"] = "organization/dsx-bus/cpc-c"

    (problem,) = _errors(_fleet(tmp_path, csc=add_cpc_c))
    assert problem.key == f"csc: {KEY}.cpcs.c"
    assert problem.value == "organization/dsx-bus/cpc-c"
    assert "no stack file Pulumi.cpc-c.yaml" in problem.fix


def test_a_cpc_whose_cluster_id_differs_from_the_csc_key_is_an_error(tmp_path: Path) -> None:
    def rename(bus: dict[str, Any]) -> None:
        bus["clusterId"] = "z"

    errors = _errors(_fleet(tmp_path, cpc_a=rename))
    assert [(p.key, p.value) for p in errors] == [(f"csc: {KEY}.cpcs.a", "organization/dsx-bus/cpc-a")]
    assert "stack cpc-a is cpc 'z', not CPC 'a'" in errors[0].fix


def test_two_cpcs_with_the_same_id_are_an_error(tmp_path: Path) -> None:
    def same_as_a(bus: dict[str, Any]) -> None:
        bus["clusterId"] = "a"

    errors = _errors(_fleet(tmp_path, cpc_b=same_as_a))
    duplicate = [p for p in errors if p.key == f"cpc-a, cpc-b: {KEY}.clusterId"]
    assert len(duplicate) == 1
    assert duplicate[0].value == "a"
    assert "CPC ids must be unique in the fleet" in duplicate[0].fix
    # and the CSC's entry for b now points at a stack that is CPC 'a'
    assert any(p.key == f"csc: {KEY}.cpcs.b" for p in errors)


def test_a_cpc_with_an_extra_account_the_csc_lacks_is_an_error(tmp_path: Path) -> None:
    def add_tools(bus: dict[str, Any]) -> None:
        bus["extraAccounts"]["Tools"] = {"enabled": True}

    (problem,) = _errors(_fleet(tmp_path, cpc_b=add_tools))
    assert problem.key == f"cpc-b: {KEY}.extraAccounts"
    assert problem.value == ["Tools"]
    assert "Add it to the CSC's extraAccounts" in problem.fix


def test_a_cpc_the_csc_does_not_list_is_a_warning(tmp_path: Path) -> None:
    def drop_b(bus: dict[str, Any]) -> None:
        del bus["cpcs"]["b"]

    problems = _problems(_fleet(tmp_path, csc=drop_b))
    unlisted = [p for p in problems if p.value == "cpc-b"]
    assert len(unlisted) == 1
    assert unlisted[0].warning
    assert unlisted[0].key == f"csc: {KEY}.cpcs"
    assert "b: organization/dsx-bus/cpc-b" in unlisted[0].fix
    assert not [p for p in problems if not p.warning]


def test_oauth2_on_a_cpc_is_an_error_when_the_csc_has_no_jwks_to_inherit(tmp_path: Path) -> None:
    def drop_jwks(bus: dict[str, Any]) -> None:
        del bus["auth"]["jwks"]
        del bus["auth"]["permissions"]["oauth2"]

    errors = _errors(_fleet(tmp_path, csc=drop_jwks))
    assert [p.key for p in errors] == [f"cpc-a: {KEY}.auth.permissions.oauth2", f"cpc-b: {KEY}.auth.permissions.oauth2"]
    assert all("the CSC exports none to inherit" in p.fix for p in errors)


def _example(stack: str) -> EventBus:
    return fleet.load(ROOT)[stack].bus


def test_a_cpc_without_lists_or_jwks_of_its_own_takes_the_csc_fleet_defaults_and_leaf_endpoint() -> None:
    csc, cpc = _example("csc"), _example("cpc-a")
    inherited = fleet.inherit_from_csc(cpc, fleet.CscExports.of(csc))
    assert cpc.cross_layer is None and cpc.auth.jwks is None
    assert inherited.bus.cross_layer == csc.cross_layer
    assert inherited.bus.jwks == csc.jwks
    assert inherited.csc_endpoint == inherited.leaf_url == "nats://leaf.csc.dsx.example.com:7422"


def test_a_cpc_keeps_its_own_lists_and_jwks() -> None:
    own_jwks = Jwks(url="https://idp.cpc.example.com/jwks.json", issuer="https://idp.cpc.example.com", audience="cpc")
    cpc = _example("cpc-b")
    cpc = cpc.model_copy(update={"auth": cpc.auth.model_copy(update={"jwks": own_jwks})})
    inherited = fleet.inherit_from_csc(cpc, fleet.CscExports.of(_example("csc")))
    assert inherited.bus.effective_cross_layer.cpc_exports == ("sensor.>", "status.>")
    assert inherited.bus.jwks == own_jwks


def test_a_cpc_endpoint_of_its_own_wins_over_the_one_the_csc_exports() -> None:
    cpc = _example("cpc-a").model_copy(update={"csc_endpoint": "tls://other.example.com:7422"})
    inherited = fleet.inherit_from_csc(cpc, fleet.CscExports.of(_example("csc")))
    assert inherited.csc_endpoint == "tls://other.example.com:7422"


def test_a_csc_not_deployed_yet_gives_nothing_and_the_leafs_dial_the_placeholder() -> None:
    cpc = _example("cpc-a")
    inherited = fleet.inherit_from_csc(cpc, None)
    assert inherited.bus == cpc
    assert inherited.csc_endpoint is None
    assert inherited.leaf_url == render.PLACEHOLDER_CSC_ENDPOINT


def test_a_csc_exporting_no_leaf_endpoint_leaves_the_cpc_on_the_placeholder_with_the_fleet_defaults() -> None:
    csc = _example("csc")
    inherited = fleet.inherit_from_csc(_example("cpc-a"), fleet.CscExports(None, FleetDefaults(jwks=csc.jwks)))
    assert inherited.leaf_url == render.PLACEHOLDER_CSC_ENDPOINT
    assert inherited.bus.jwks == csc.jwks and inherited.bus.cross_layer is None


def test_the_fleet_defaults_a_csc_exports_read_back_as_the_same_defaults() -> None:
    """The CSC stack exports them as plain data (its `fleetDefaults` output); its CPCs read them back from that."""
    exported = fleet.CscExports.of(_example("csc")).fleet_defaults
    assert FleetDefaults.model_validate(exported.model_dump(mode="json", by_alias=True, exclude_none=True)) == exported


@pytest.mark.parametrize("stack", ["cpc-a", "cpc-b"])
def test_resolve_gives_a_cpc_what_inherit_from_csc_gives_it(stack: str) -> None:
    """The CLI and local runner resolve a CPC as the program does from the CSC stack's outputs."""
    inherited = fleet.inherit_from_csc(_example(stack), fleet.CscExports.of(_example("csc")))
    resolved = fleet.resolve(fleet.load(ROOT), stack)
    assert (resolved.bus, resolved.csc_endpoint) == (inherited.bus, inherited.csc_endpoint)


def test_resolve_without_the_csc_stack_file_gives_a_cpc_nothing_inherited() -> None:
    resolved = fleet.resolve(fleet.load(ROOT, ["cpc-a"]), "cpc-a")
    assert resolved.bus == _example("cpc-a")
    assert resolved.csc_endpoint is None


def test_resolve_gives_cpc_a_the_csc_leaf_endpoint_and_cross_layer_lists() -> None:
    stacks = fleet.load(ROOT)
    resolved = fleet.resolve(stacks, "cpc-a")
    assert stacks["cpc-a"].bus.cross_layer is None
    assert resolved.csc_endpoint == "nats://leaf.csc.dsx.example.com:7422"
    assert resolved.bus.cross_layer == CrossLayer(
        csc_exports=("broadcast.>",), csc_prefixed_exports=("command.>",), cpc_exports=("sensor.>",)
    )
    assert resolved.bus.jwks == stacks["csc"].bus.jwks


def test_resolve_keeps_cpc_b_own_cross_layer_lists() -> None:
    resolved = fleet.resolve(fleet.load(ROOT), "cpc-b")
    assert resolved.bus.effective_cross_layer.cpc_exports == ("sensor.>", "status.>")
    assert resolved.csc_endpoint == "nats://leaf.csc.dsx.example.com:7422"


def test_a_cpc_endpoint_of_its_own_wins_over_the_csc_leaf_endpoint(tmp_path: Path) -> None:
    def own_endpoint(bus: dict[str, Any]) -> None:
        bus["cscEndpoint"] = "nats://10.0.0.1:7422"

    resolved = fleet.resolve(fleet.load(_fleet(tmp_path, cpc_a=own_endpoint)), "cpc-a")
    assert resolved.csc_endpoint == "nats://10.0.0.1:7422"


def test_resolve_gives_the_csc_each_cpc_effective_lists_with_cpc_b_override() -> None:
    resolved = fleet.resolve(fleet.load(ROOT), "csc")
    assert resolved.csc_endpoint is None
    assert set(resolved.cpc_lists) == {"a", "b"}
    assert resolved.cpc_lists["a"].cpc_exports == ("sensor.>",)
    assert resolved.cpc_lists["b"].cpc_exports == ("sensor.>", "status.>")


def test_a_broken_stack_file_fails_the_load_naming_its_stack(tmp_path: Path) -> None:
    def numeric(bus: dict[str, Any]) -> None:
        bus["clusterId"] = 1

    project = _fleet(tmp_path, cpc_a=numeric)
    with pytest.raises(ConfigError) as caught:
        fleet.load(project)
    assert [p.key for p in caught.value.problems] == [f"cpc-a: {KEY}.clusterId"]


def _cpc_b_broadcasts_sensor(bus: dict[str, Any]) -> None:
    bus["crossLayer"] = {"cscExports": ["sensor.>"], "cscPrefixedExports": ["command.>"], "cpcExports": ["status.>"]}


def test_a_cpc_export_another_cpc_imports_as_a_broadcast_is_an_error_where_the_leaf_needs_it_unprefixed(
    tmp_path: Path,
) -> None:
    # cpc-a runs the deployed 2.12.6: its leaf may publish `sensor.x` on the CSC, and cpc-b would receive it.
    (problem,) = _errors(_fleet(tmp_path, cpc_b=_cpc_b_broadcasts_sensor))
    assert problem.key == f"cpc-a: {KEY}.crossLayer.cpcExports[0]" and problem.value == "sensor.>"
    assert "cscExports 'sensor.>' of CPC 'b'" in problem.fix and "run nats-server 2.15.1" in problem.fix


def test_the_same_lists_are_no_error_when_that_cpc_runs_a_version_that_checks_after_the_prefix(
    tmp_path: Path,
) -> None:
    def newest(bus: dict[str, Any]) -> None:
        bus["images"] = {"nats": "nats:2.15.1-alpine"}

    assert _errors(_fleet(tmp_path, cpc_a=newest, cpc_b=_cpc_b_broadcasts_sensor)) == []
