"""`dsx-bus validate` on grants (dsxbus.checks.grants): noauth and operator entries may not reach cross-cluster
commands or server APIs (nor, for noauth, broadcasts or a whole account) unless the entry acknowledges it. Each test
changes one thing on an example stack file."""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from dsxbus import checks, permissions, stackfile
from dsxbus.config import EventBus, FleetDefaults
from dsxbus.errors import ConfigError, Problem

ROOT = Path(__file__).resolve().parents[2]
KEY = "dsx-bus:eventBus"
PERMS = f"{KEY}.auth.permissions"


@cache
def _example(stack: str) -> dict[str, Any]:
    raw: dict[str, Any] = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"][KEY]
    return raw


def _raw(stack: str) -> dict[str, Any]:
    raw = copy.deepcopy(_example(stack))
    # The example CSC's uplinks are on, with their own warning (tests/unit/test_checks_streams.py): no grant's.
    raw.pop("mqttStreams", None)
    return raw


def _errors(raw: dict[str, Any]) -> list[Problem]:
    with pytest.raises(ConfigError) as caught:
        stackfile.parse(raw)
    return [p for p in caught.value.problems if not p.warning]


def _warnings(raw: dict[str, Any]) -> list[Problem]:
    _, warnings = stackfile.parse(raw)
    return list(warnings)


def _risk(problem: Problem) -> str:
    """The risk a grant error names (`... add serverApis to ...acknowledge`)."""
    return problem.fix.rsplit(" add ", 1)[1].split(" ")[0]


def _noauth(raw: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = raw["auth"]["permissions"]["noauth"]
    return entry


# --- the examples ---------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["csc", "cpc-a", "cpc-b"])
def test_the_example_stacks_grant_nothing_unacknowledged(stack: str) -> None:
    _, warnings = stackfile.parse(_raw(stack))
    assert [w.key for w in warnings] == ([f"{PERMS}.noauth.account"] if stack == "csc" else [])


def test_the_example_fleet_grants_nothing_unacknowledged() -> None:
    buses = {stack: stackfile.parse(_raw(stack))[0] for stack in ("csc", "cpc-a", "cpc-b")}
    assert [p for p in checks.fleet_problems(buses) if not p.warning] == []


# --- noauth ---------------------------------------------------------------------------------------


def test_anonymous_commands_to_every_cpc_on_the_csc_are_refused() -> None:
    raw = _raw("csc")
    _noauth(raw)["permissions"]["pub"]["allow"] = ["test.>", "cpc.*.command.>"]
    (problem,) = _errors(raw)
    assert str(problem) == (
        f"{PERMS}.noauth.permissions.pub.allow[1] = 'cpc.*.command.>': allows pub 'cpc.*.command.>', so anonymous "
        "clients (noauth) may publish to 'cpc.x.command.x': a command to a CPC (cscPrefixedExports 'command.>': the "
        "CSC's cpc.<id>.command.> reaches CPC <id> as command.>, and a wildcard id reaches every CPC). Fix: allow "
        "only subjects that stay on this cluster (a CPC's cpcExports telemetry is meant to cross), or deny the rest; "
        "or, if anonymous clients (noauth) are meant to, add crossClusterCommands to auth.permissions.noauth."
        "acknowledge"
    )


def test_anonymous_broadcasts_on_the_csc_are_refused() -> None:
    raw = _raw("csc")
    _noauth(raw)["permissions"]["pub"]["allow"] = ["test.>", "broadcast.>"]
    (problem,) = _errors(raw)
    assert problem.key == f"{PERMS}.noauth.permissions.pub.allow[1]"
    assert "may publish to 'broadcast.x': a broadcast to every CPC (cscExports 'broadcast.>')" in problem.fix
    assert "add broadcasts to auth.permissions.noauth.acknowledge" in problem.fix


def test_anonymous_clients_without_permissions_on_a_cpc_get_one_error_per_risk() -> None:
    raw = _raw("cpc-a")
    del _noauth(raw)["permissions"]
    found = [(p.key, p.value, p.fix.split(". Fix:")[0]) for p in _errors(raw)]
    where = f"{PERMS}.noauth.permissions"
    assert found == [
        (where, None, "there is no pub.allow list, so anonymous clients (noauth) may publish to every subject of "
         "account 'CPC'"),
        (where, None, "there is no pub.allow list, so anonymous clients (noauth) may publish to '$JS.CSC.API.x': the "
         "CSC's JetStream API (streams and consumers of the whole fleet)"),
        (where, None, "there is no pub.allow list, so anonymous clients (noauth) may publish to '$JS.x': the "
         "JetStream API (create, change and delete streams and consumers, read any stream)"),
        (where, None, "there is no sub.allow list, so anonymous clients (noauth) may subscribe to every subject of "
         "account 'CPC'"),
    ]  # fmt: skip


def test_a_deny_only_rule_is_reported_where_its_allow_list_is_missing() -> None:
    raw = _raw("cpc-a")
    _noauth(raw)["permissions"]["pub"] = {"deny": ["$JS.>"]}
    problems = _errors(raw)
    assert {(p.key, str(p.value)) for p in problems} == {(f"{PERMS}.noauth.permissions.pub.allow", "[]")}
    # The deny takes every JetStream subject, hence the CSC's JetStream API too, but not the key-value stores.
    assert [_risk(p) for p in problems] == ["wholeAccount", "serverApis"]
    assert "may publish to '$KV.x'" in problems[1].fix


def test_a_deny_list_that_takes_the_dangerous_part_is_honoured() -> None:
    raw = _raw("csc")
    _noauth(raw)["permissions"]["pub"] = {"allow": ["test.>", "cpc.*.>"], "deny": ["cpc.*.command.>"]}
    assert stackfile.parse(raw)[0].auth.permissions.noauth is not None


def test_an_anonymous_grant_acknowledged_on_its_entry_passes() -> None:
    raw = _raw("csc")
    _noauth(raw)["permissions"]["pub"]["allow"] = ["test.>", "broadcast.>", "cpc.*.command.>"]
    _noauth(raw)["acknowledge"] = ["crossClusterCommands", "broadcasts"]
    assert [w.key for w in _warnings(raw)] == [f"{PERMS}.noauth.account"]


def test_acknowledging_one_risk_leaves_the_others_refused() -> None:
    raw = _raw("cpc-a")
    del _noauth(raw)["permissions"]
    _noauth(raw)["acknowledge"] = ["wholeAccount"]
    assert [_risk(p) for p in _errors(raw)] == ["crossClusterCommands", "serverApis"]


# --- operator entries ------------------------------------------------------------------------------


def test_an_operator_entry_with_a_whole_account_is_refused_for_what_it_reaches_not_for_the_account() -> None:
    raw = _raw("csc")
    del raw["auth"]["permissions"]["oauth2"]["csc-admin"]["acknowledge"]
    found = [(p.key, _risk(p)) for p in _errors(raw)]
    assert found == [
        (f"{PERMS}.oauth2.csc-admin.permissions", "crossClusterCommands"),
        (f"{PERMS}.oauth2.csc-admin.permissions", "serverApis"),
    ]


@pytest.mark.parametrize("kind", ["oauth2", "mtls"])
def test_an_operator_entry_publishing_to_the_jetstream_api_is_refused(kind: str) -> None:
    raw = _raw("cpc-b")
    raw["auth"]["permissions"][kind]["mqtt-client"]["permissions"]["pub"]["allow"] = ["test.>", "$KV.config.>"]
    (problem,) = _errors(raw)
    assert problem.key == f"{PERMS}.{kind}.mqtt-client.permissions.pub.allow[1]"
    assert problem.value == "$KV.config.>"
    assert "may publish to '$KV.config.x': the key-value stores" in problem.fix
    assert f"add serverApis to auth.permissions.{kind}.mqtt-client.acknowledge" in problem.fix


def test_an_operator_nkey_entry_reaching_the_cscs_jetstream_from_a_cpc_is_refused() -> None:
    raw = _raw("cpc-a")
    raw["auth"]["permissions"]["nkey"] = {
        "app": {
            "public_key": "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4",
            "account": "CPC",
            "permissions": {"pub": {"allow": ["$JS.CSC.API.STREAM.>"]}, "sub": {"allow": ["_INBOX.>"]}},
        }
    }
    found = [_risk(p) for p in _errors(raw)]
    assert found == ["crossClusterCommands", "serverApis"]


def test_an_operator_entry_may_broadcast_and_have_no_sub_allow_list() -> None:
    raw = _raw("csc")
    raw["auth"]["permissions"]["oauth2"]["mqtt-client"]["permissions"] = {"pub": {"allow": ["broadcast.>"]}}
    assert [w.key for w in _warnings(raw)] == [f"{PERMS}.noauth.account"]


def test_an_unknown_risk_is_refused_with_the_ones_there_are() -> None:
    raw = _raw("csc")
    raw["auth"]["permissions"]["oauth2"]["csc-admin"]["acknowledge"] = ["everything"]
    (problem,) = _errors(raw)
    assert problem.key == f"{PERMS}.oauth2.csc-admin.acknowledge[0]"
    assert "'crossClusterCommands', 'broadcasts', 'serverApis' or 'wholeAccount'" in problem.fix


def test_an_acknowledgement_the_grant_does_not_need_is_a_warning() -> None:
    raw = _raw("csc")
    raw["auth"]["permissions"]["mtls"]["mqtt-client"]["acknowledge"] = ["serverApis"]
    stale = [w for w in _warnings(raw) if w.key != f"{PERMS}.noauth.account"]
    assert [(w.key, w.value) for w in stale] == [(f"{PERMS}.mtls.mqtt-client.acknowledge[0]", "serverApis")]
    assert "reach no serverApis: remove it, so that a grant that does is reported" in stale[0].fix


def test_an_acknowledgement_is_never_rendered_into_permissions_json() -> None:
    bus, _ = stackfile.parse(_raw("csc"))
    document = permissions.permissions_document(bus)
    assert document["oauth2"]["csc-admin"] == {"subject": "csc-admin", "account": "CSC"}
    assert "acknowledge" not in permissions.render(document)


# --- what only the fleet knows --------------------------------------------------------------------


def _window_entry(raw: dict[str, Any], allow: list[str]) -> None:
    raw["auth"]["permissions"]["mtls"]["window"] = {
        "identity": "CN=window.cpc-a",
        "account": "CSC",
        "permissions": {"pub": {"allow": allow}, "sub": {"allow": ["test.>"]}},
    }


def test_a_grant_in_a_cpcs_window_on_the_csc_is_judged_once_the_inherited_telemetry_is_known() -> None:
    raw = _raw("cpc-a")
    _window_entry(raw, ["cpc.a.sensor.>", "cpc.a.status.>"])
    cpc, _ = stackfile.parse(raw)  # the telemetry is the CSC's to give
    fleet = FleetDefaults.model_validate(
        {"crossLayer": _example("csc")["crossLayer"], "jwks": _example("csc")["auth"]["jwks"]}
    )
    (problem,) = [p for p in checks.effective_problems(cpc, fleet) if not p.warning]
    assert problem.key == f"{PERMS}.mtls.window.permissions.pub.allow[1]"
    assert "may publish to 'cpc.a.status.x': a subject that crosses the leaf to the CSC" in problem.fix


def test_a_cpc_with_its_own_lists_has_its_window_judged_at_once() -> None:
    raw = _raw("cpc-b")
    _window_entry(raw, ["cpc.b.status.>", "cpc.a.sensor.>"])
    (problem,) = _errors(raw)
    assert problem.key == f"{PERMS}.mtls.window.permissions.pub.allow[1]"


def test_a_command_only_one_cpc_imports_is_refused_on_the_csc_by_the_fleet_check() -> None:
    csc = _raw("csc")
    _noauth(csc)["permissions"]["pub"]["allow"] = ["test.>", "cpc.*.config.>"]
    cpc_b = _raw("cpc-b")
    cpc_b["crossLayer"]["cscPrefixedExports"] = ["command.>", "config.>"]
    buses = {"csc": stackfile.parse(csc)[0], "cpc-a": EventBus.model_validate(_raw("cpc-a"))}
    buses["cpc-b"] = stackfile.parse(cpc_b)[0]
    (problem,) = [p for p in checks.fleet_problems(buses) if not p.warning]
    assert problem.key == f"csc: {PERMS}.noauth.permissions.pub.allow[1]"
    assert "may publish to 'cpc.x.config.x': a command to a CPC (cscPrefixedExports 'config.>'" in problem.fix


def test_the_rogue_leaf_warning_on_the_csc_says_what_noauth_lets_it_read() -> None:
    (warning,) = _warnings(_raw("csc"))
    assert warning.value == "CSC"
    assert "receives whatever noauth may subscribe to. Remove noauth on the CSC for production" in warning.fix
