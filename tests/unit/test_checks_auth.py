"""The auth-callout's identities (dsxbus.checks.auth): known accounts, valid subjects and keys, names dsx-bus takes,
and OAuth2 clients only where a jwks block says how to check their tokens."""

from __future__ import annotations

from typing import Any

import pytest

from dsxbus import checks, stackfile
from dsxbus.config import FleetDefaults, Jwks
from tests.unit.stackconfigs import KEY, LEAF_PUBLIC_KEY, TEST_ONLY, cpc, csc, only_error, with_permissions


@pytest.mark.parametrize(
    ("base", "name"),
    [
        (cpc, "surveyor"),
        (cpc, "nack-controller"),
        (cpc, "mtls-leaf"),
        (csc, "leaf-cpc-a"),
        (csc, "leaf-launchlayer-cpc-b"),
    ],
)
def test_an_operator_nkey_entry_named_like_a_generated_one_is_refused(base: Any, name: str) -> None:
    account = "CPC" if base is cpc else "CSC"
    entry = {"public_key": LEAF_PUBLIC_KEY, "account": account, "permissions": TEST_ONLY}
    raw = with_permissions(base(), "nkey", {name: entry})
    problem = only_error(raw)
    assert problem.key == f"{KEY}.auth.permissions.nkey.{name}"
    assert problem.value == name
    assert "would overwrite yours; rename it" in problem.fix


def test_an_nkey_entry_named_mtls_leaf_is_fine_while_mtls_is_off() -> None:
    entry = {"public_key": LEAF_PUBLIC_KEY, "account": "CPC", "permissions": TEST_ONLY}
    raw = with_permissions(cpc(), "nkey", {"mtls-leaf": entry})
    raw["mtls"] = {"enabled": False}
    raw["auth"]["permissions"].pop("mtls")
    bus, _ = stackfile.parse(raw)
    assert "mtls-leaf" in bus.auth.permissions.nkey


@pytest.mark.parametrize(
    ("base", "env"),
    [(cpc, "NKEY_SURVEYOR_PUBKEY"), (cpc, "AUTH_CALLOUT_MTLS_CA_PATH"), (csc, "NKEY_LEAF_LAUNCHLAYER_CPC_a_PUBKEY")],
)
def test_an_extra_env_reusing_a_generated_env_name_is_refused(base: Any, env: str) -> None:
    raw = base(authCallout={"image": "auth-callout:v1", "extraEnvs": {"LOG_LEVEL": "debug", env: "x"}})
    problem = only_error(raw)
    assert problem.key == f"{KEY}.authCallout.extraEnvs.{env}"
    assert problem.value == env
    assert "dsx-bus sets this env var itself" in problem.fix
    assert "remove it" in problem.fix


def test_oauth2_clients_on_a_csc_without_jwks_are_refused() -> None:
    raw = csc()
    del raw["auth"]["jwks"]
    problem = only_error(raw)
    assert problem.key == f"{KEY}.auth.permissions.oauth2"
    assert problem.value == ["csc-admin", "launchlayer-client"]
    assert "need auth.jwks (url, issuer, audience)" in problem.fix


def test_oauth2_clients_on_a_cpc_with_a_csc_stack_wait_for_the_fleet_jwks() -> None:
    bus, warnings = stackfile.parse(cpc())
    assert bus.auth.jwks is None
    assert warnings == ()


def test_oauth2_clients_on_a_cpc_are_refused_when_the_csc_has_no_jwks_either() -> None:
    bus, _ = stackfile.parse(cpc())
    (problem,) = checks.effective_problems(bus, FleetDefaults())
    assert problem.key == f"{KEY}.auth.permissions.oauth2"
    assert problem.value == ["launchlayer-client", "mqtt-client"]
    assert "the CSC exports none to inherit" in problem.fix


def test_oauth2_clients_on_a_cpc_are_fine_when_the_csc_has_jwks() -> None:
    bus, _ = stackfile.parse(cpc())
    jwks = Jwks(url="https://idp.example.com/jwks.json", issuer="https://idp.example.com", audience="dsx")
    assert checks.effective_problems(bus, FleetDefaults(jwks=jwks)) == []


def test_oauth2_clients_on_a_cpc_without_a_csc_stack_need_their_own_jwks() -> None:
    raw = cpc(cscEndpoint="nats://leaf.csc.example.com:7422")
    del raw["cscStack"]
    problem = only_error(raw)
    assert problem.key == f"{KEY}.auth.permissions.oauth2"
    assert "need auth.jwks" in problem.fix


def test_a_permission_naming_an_unknown_account_is_refused() -> None:
    raw = cpc()
    raw["auth"]["permissions"]["mtls"]["mqtt-client"]["account"] = "Launchlayer"
    problem = only_error(raw)
    assert problem.key == f"{KEY}.auth.permissions.mtls.mqtt-client.account"
    assert problem.value == "Launchlayer"
    assert "no such account on this CPC; use one of CPC, CSC, SYS, LaunchLayer" in problem.fix


def test_a_permission_naming_a_disabled_extra_account_is_refused() -> None:
    problem = only_error(cpc(extraAccounts={"LaunchLayer": {"enabled": False}}))
    assert problem.key == f"{KEY}.auth.permissions.oauth2.launchlayer-client.account"
    assert problem.value == "LaunchLayer"
    assert "extra accounts must be listed in extraAccounts" in problem.fix


@pytest.mark.parametrize(("subject", "reason"), [("test.>.x", "'>'"), ("test..x", "empty"), ("te st", "")])
def test_an_invalid_subject_in_permissions_is_refused(subject: str, reason: str) -> None:
    raw = cpc()
    raw["auth"]["permissions"]["oauth2"]["mqtt-client"]["permissions"]["sub"]["allow"] = ["test.>", subject]
    problem = only_error(raw)
    assert problem.key == f"{KEY}.auth.permissions.oauth2.mqtt-client.permissions.sub.allow[1]"
    assert problem.value == subject
    assert problem.fix.startswith("not a valid NATS subject: it ")
    assert reason in problem.fix
