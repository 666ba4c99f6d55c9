"""Consistency among stack files (dsxbus.checks.fleet, through `fleet.problems`): one CSC, each CPC it lists exists,
is that CPC and points back, and what only the fleet knows.

Each test copies the example stack files into tmp_path and edits one thing with PyYAML.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dsxbus import fleet
from dsxbus.errors import Problem
from tests.unit.stackconfigs import KEY, ROOT, example_fleet


def _problems(project: Path) -> list[Problem]:
    return fleet.problems(fleet.load(project))


def _errors(project: Path) -> list[Problem]:
    return [p for p in _problems(project) if not p.warning]


def test_the_example_fleet_has_no_errors() -> None:
    assert _errors(ROOT) == []


def test_the_example_fleet_has_no_errors_when_copied(tmp_path: Path) -> None:
    assert _errors(example_fleet(tmp_path)) == []


def test_a_csc_listing_a_cpc_stack_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    def add_cpc_c(bus: dict[str, Any]) -> None:
        bus["cpcs"]["c"] = "organization/dsx-bus/cpc-c"

    (problem,) = _errors(example_fleet(tmp_path, csc=add_cpc_c))
    assert problem.key == f"csc: {KEY}.cpcs.c"
    assert problem.value == "organization/dsx-bus/cpc-c"
    assert "no stack file Pulumi.cpc-c.yaml" in problem.fix


def test_a_cpc_whose_cluster_id_differs_from_the_csc_key_is_an_error(tmp_path: Path) -> None:
    def rename(bus: dict[str, Any]) -> None:
        bus["clusterId"] = "z"

    errors = _errors(example_fleet(tmp_path, cpc_a=rename))
    assert [(p.key, p.value) for p in errors] == [(f"csc: {KEY}.cpcs.a", "organization/dsx-bus/cpc-a")]
    assert "stack cpc-a is cpc 'z', not CPC 'a'" in errors[0].fix


def test_two_cpcs_with_the_same_id_are_an_error(tmp_path: Path) -> None:
    def same_as_a(bus: dict[str, Any]) -> None:
        bus["clusterId"] = "a"

    errors = _errors(example_fleet(tmp_path, cpc_b=same_as_a))
    duplicate = [p for p in errors if p.key == f"cpc-a, cpc-b: {KEY}.clusterId"]
    assert len(duplicate) == 1
    assert duplicate[0].value == "a"
    assert "CPC ids must be unique in the fleet" in duplicate[0].fix
    # and the CSC's entry for b now points at a stack that is CPC 'a'
    assert any(p.key == f"csc: {KEY}.cpcs.b" for p in errors)


def test_a_cpc_with_an_extra_account_the_csc_lacks_is_an_error(tmp_path: Path) -> None:
    def add_tools(bus: dict[str, Any]) -> None:
        bus["extraAccounts"]["Tools"] = {"enabled": True}

    (problem,) = _errors(example_fleet(tmp_path, cpc_b=add_tools))
    assert problem.key == f"cpc-b: {KEY}.extraAccounts"
    assert problem.value == ["Tools"]
    assert "Add it to the CSC's extraAccounts" in problem.fix


def test_a_cpc_the_csc_does_not_list_is_a_warning(tmp_path: Path) -> None:
    def drop_b(bus: dict[str, Any]) -> None:
        del bus["cpcs"]["b"]

    problems = _problems(example_fleet(tmp_path, csc=drop_b))
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

    errors = _errors(example_fleet(tmp_path, csc=drop_jwks))
    assert [p.key for p in errors] == [f"cpc-a: {KEY}.auth.permissions.oauth2", f"cpc-b: {KEY}.auth.permissions.oauth2"]
    assert all("the CSC exports none to inherit" in p.fix for p in errors)


def _cpc_b_broadcasts_sensor(bus: dict[str, Any]) -> None:
    bus["crossLayer"] = {"cscExports": ["sensor.>"], "cscPrefixedExports": ["command.>"], "cpcExports": ["status.>"]}


def test_a_cpc_export_another_cpc_imports_as_a_broadcast_is_no_error_even_where_the_leaf_needs_it_unprefixed(
    tmp_path: Path,
) -> None:
    # cpc-a runs the deployed 2.12.6: its leaf may publish `sensor.x` unprefixed, but it lands in CPC a's own account
    # on the CSC, which exports only `cpc.a.` subjects (test_local_security: it reaches no CSC-account subscriber).
    assert _errors(example_fleet(tmp_path, cpc_b=_cpc_b_broadcasts_sensor)) == []
