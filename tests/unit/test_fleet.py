"""Stack files loaded together (`fleet.load`), what a CPC takes from its CSC (`fleet.inherit_from_csc`, for the
program and the CLI alike) and what each stack sees of the others (`fleet.resolve`).

Consistency among them (`fleet.problems`) is tested with its rules: tests/unit/test_checks_fleet.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dsxbus import fleet, render
from dsxbus.config import CrossLayer, EventBus, FleetDefaults, Jwks
from dsxbus.errors import ConfigError
from tests.unit.stackconfigs import KEY, ROOT, example_fleet


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

    resolved = fleet.resolve(fleet.load(example_fleet(tmp_path, cpc_a=own_endpoint)), "cpc-a")
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

    project = example_fleet(tmp_path, cpc_a=numeric)
    with pytest.raises(ConfigError) as caught:
        fleet.load(project)
    assert [p.key for p in caught.value.problems] == [f"cpc-a: {KEY}.clusterId"]
