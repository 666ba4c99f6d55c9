"""Stack files loaded together (`fleet.load`) and what each stack sees of the others (`fleet.resolve`).

Consistency among them (`fleet.problems`) is tested with its rules: tests/unit/test_checks_fleet.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dsxbus import fleet
from dsxbus.config import CrossLayer
from dsxbus.errors import ConfigError
from tests.unit.stackconfigs import KEY, ROOT, example_fleet


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
