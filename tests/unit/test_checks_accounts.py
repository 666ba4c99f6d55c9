"""Extra account names (dsxbus.checks.accounts): clear of the built-in accounts, of CPC routing, of each other."""

from __future__ import annotations

import pytest

from tests.unit.stackconfigs import KEY, cpc, errors_of, only_error


def test_an_extra_account_name_with_a_dash_is_refused() -> None:
    problem = only_error(cpc(extraAccounts={"LaunchLayer": {}, "Launch-Pad": {}}))
    assert problem.key == f"{KEY}.extraAccounts.Launch-Pad"
    assert problem.value == "Launch-Pad"
    assert "start with a letter and use letters and digits only" in problem.fix


@pytest.mark.parametrize("name", ["SYS", "auth", "Authx", "csc", "Cpc"])
def test_a_built_in_account_name_is_refused_whatever_its_case(name: str) -> None:
    problem = only_error(cpc(extraAccounts={"LaunchLayer": {}, name: {}}))
    assert problem.key == f"{KEY}.extraAccounts.{name}"
    assert problem.value == name
    assert "built-in accounts; choose another name" in problem.fix


def test_an_extra_account_starting_with_cpc_is_refused() -> None:
    problem = only_error(cpc(extraAccounts={"LaunchLayer": {}, "cpcTools": {}}))
    assert problem.key == f"{KEY}.extraAccounts.cpcTools"
    assert problem.value == "cpcTools"
    assert "reserved for CPC routing; rename it" in problem.fix


def test_two_extra_accounts_differing_only_in_case_collide_in_env_and_secret_names() -> None:
    errors = errors_of(cpc(extraAccounts={"LaunchLayer": {}, "Tools": {}, "TOOLS": {}}))
    assert [(p.key, p.value) for p in errors] == [(f"{KEY}.extraAccounts", ["Tools", "TOOLS"])] * 2
    assert "env var token 'TOOLS'" in errors[0].fix
    assert "Secret token 'tools'" in errors[1].fix
    assert all("rename one" in p.fix for p in errors)
