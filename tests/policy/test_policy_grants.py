"""grants-confined: permissions.json's noauth and operator entries reach no other cluster's commands and no server
API (noauth also no broadcast and no whole account) unless the policy config acknowledges it, per stack."""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
import pytest

from tests.policy import analyzer, programs
from tests.policy.analyzer import Capture, Diagnostic
from tests.program import harness

CONFIG = analyzer.example_config()
GRANTS = "grants-confined"
EMPTY: dict[str, Any] = {"oauth2": {}, "mtls": {}, "nkey": {}, "noauth": None}
TELEMETRY = {"pub": {"allow": ["sensor.>"]}, "sub": {"allow": ["command.>"]}}


def _unacknowledged() -> dict[str, Any]:
    config = copy.deepcopy(CONFIG)
    config[GRANTS]["acknowledged"] = {}
    return config


def _grants(found: list[Diagnostic]) -> list[str]:
    return sorted(d.message for d in found if d.policy == GRANTS)


def _hand(document: dict[str, Any], *more: Any, config: dict[str, Any] | None = None) -> list[Diagnostic]:
    def program() -> None:
        programs.permissions(document)
        for declare in more:
            declare()

    return analyzer.analyze(analyzer.capture(program), config or CONFIG)


def _with(**entries: Any) -> dict[str, Any]:
    return {**copy.deepcopy(EMPTY), **entries}


# --- the examples ---------------------------------------------------------------------------------


def test_the_example_admin_clients_are_mandatory_without_the_acknowledgements(csc: Capture) -> None:
    found = analyzer.analyze(csc, _unacknowledged())
    assert [d for d in analyzer.mandatory(found) if d.policy != GRANTS] == []
    assert [(d.level, d.resource) for d in found if d.policy == GRANTS] == [
        ("MANDATORY", "csc-auth-callout-permissions")
    ] * 3
    assert _grants(found)[0] == (
        "ConfigMap auth-callout-permissions (csc-auth-callout-permissions): oauth2.csc-admin.permissions: there is "
        "no pub.allow list, so OAuth2 client 'csc-admin' may publish to '$JS.x': the JetStream API (create, change "
        "and delete streams and consumers, read any stream). Fix: remove the $-subject or deny it (an identity that "
        "administers JetStream needs its own entry); or, if intended, acknowledge it in this policy's config "
        '("acknowledged": {"csc": {"oauth2": {"csc-admin": ["serverApis"]}}}) and, in a dsx-bus stack, in '
        "auth.permissions.oauth2.csc-admin.acknowledge."
    )
    assert "may publish to 'cpc.x.command.x': a command to a CPC (cscPrefixedExports 'command.>'" in _grants(found)[1]


def test_an_acknowledgement_for_every_stack_counts_on_each(cpc_a: Capture) -> None:
    config = _unacknowledged()
    assert len(_grants(analyzer.analyze(cpc_a, config))) == 1  # launchlayer-client
    config[GRANTS]["acknowledged"] = {"*": {"oauth2": {"launchlayer-client": ["serverApis"]}}}
    assert _grants(analyzer.analyze(cpc_a, config)) == []


def test_an_acknowledgement_for_another_stack_does_not_count(cpc_a: Capture) -> None:
    config = _unacknowledged()
    config[GRANTS]["acknowledged"] = {"cpc-b": {"oauth2": {"launchlayer-client": ["serverApis"]}}}
    assert len(_grants(analyzer.analyze(cpc_a, config))) == 1


# --- the real components, bypassing the config model ----------------------------------------------


def _bypassing(stack: str, noauth: dict[str, Any], stack_outputs: dict[str, dict[str, Any]]) -> list[Diagnostic]:
    bus = copy.deepcopy(harness.stack_config(stack)["dsx-bus:eventBus"])
    bus["auth"]["permissions"]["noauth"] = noauth
    capture = analyzer.capture(
        lambda: programs.bypassing_the_model(bus),
        stack=stack,
        config=harness.stack_config(stack),
        stack_outputs=stack_outputs,
    )
    return analyzer.analyze(capture, CONFIG)


def test_anonymous_commands_to_every_cpc_on_a_csc_are_mandatory(cpc_outputs: dict[str, dict[str, Any]]) -> None:
    old_example = {"pub": {"allow": ["test.>", "broadcast.>", "cpc.*.command.>"]}, "sub": {"allow": ["test.>"]}}
    found = _bypassing("csc", {"account": "CSC", "permissions": old_example}, cpc_outputs)
    assert analyzer.summary(analyzer.mandatory(found)) == [(GRANTS, "MANDATORY", "csc-auth-callout-permissions")] * 2
    assert _grants(found) == [
        "ConfigMap auth-callout-permissions (csc-auth-callout-permissions): noauth.permissions.pub.allow[1]: allows "
        "pub 'broadcast.>', so anonymous clients (noauth) may publish to 'broadcast.x': a broadcast to every CPC "
        "(cscExports 'broadcast.>'). Fix: anonymous clients should not broadcast to every CPC: narrow the allow list "
        "or deny them; or, if intended, acknowledge it in this policy's config "
        '("acknowledged": {"csc": {"noauth": ["broadcasts"]}}) and, in a dsx-bus stack, in '
        "auth.permissions.noauth.acknowledge.",
        "ConfigMap auth-callout-permissions (csc-auth-callout-permissions): noauth.permissions.pub.allow[2]: allows "
        "pub 'cpc.*.command.>', so anonymous clients (noauth) may publish to 'cpc.x.command.x': a command to a CPC "
        "(cscPrefixedExports 'command.>': the CSC's cpc.<id>.command.> reaches CPC <id> as command.>, and a wildcard "
        "id reaches every CPC). Fix: allow only subjects that stay on this cluster (a CPC's cpcExports telemetry is "
        "meant to cross), or deny the rest; or, if intended, acknowledge it in this policy's config "
        '("acknowledged": {"csc": {"noauth": ["crossClusterCommands"]}}) and, in a dsx-bus stack, in '
        "auth.permissions.noauth.acknowledge.",
    ]


def test_a_command_only_one_cpcs_own_lists_route_is_found_through_its_stack_reference(
    cpc_outputs: dict[str, dict[str, Any]],
) -> None:
    outputs = copy.deepcopy(cpc_outputs)
    outputs["organization/dsx-bus/cpc-b"]["crossLayer"]["cscPrefixedExports"] = ["command.>", "config.>"]
    found = _bypassing("csc", {"account": "CSC", "permissions": {"pub": {"allow": ["cpc.*.config.>"]}}}, outputs)
    grants = [m for m in _grants(found) if "pub.allow[0]" in m]
    assert len(grants) == 1 and "a command to a CPC (cscPrefixedExports 'config.>'" in grants[0]


def test_anonymous_clients_with_the_whole_cpc_account_are_mandatory(csc_first: Capture) -> None:
    found = _grants(_bypassing("cpc-a", {"account": "CPC"}, {programs.CSC_REF: csc_first.exports}))
    assert found[0] == (
        "ConfigMap auth-callout-permissions (cpc-a-auth-callout-permissions): noauth.permissions: there is no "
        "pub.allow list, so anonymous clients (noauth) may publish to '$JS.CSC.API.x': the CSC's JetStream API "
        "(streams and consumers of the whole fleet). Fix: allow only subjects that stay on this cluster (a CPC's "
        "cpcExports telemetry is meant to cross), or deny the rest; or, if intended, acknowledge it in this policy's "
        'config ("acknowledged": {"cpc-a": {"noauth": ["crossClusterCommands"]}}) and, in a dsx-bus stack, in '
        "auth.permissions.noauth.acknowledge."
    )
    what = [m.split(". Fix:")[0].split(" may ")[1] for m in found[1:]]
    assert what == [
        "publish to '$JS.x': the JetStream API (create, change and delete streams and consumers, read any stream)",
        "publish to every subject of account 'CPC'",
        "subscribe to every subject of account 'CPC'",
    ]


# --- hand-written permissions.json ----------------------------------------------------------------


def test_a_hand_written_cpc_entry_is_judged_as_a_cpc_by_its_account() -> None:
    found = _hand(_with(noauth={"account": "CPC", "permissions": {"pub": {"allow": [">"]}, "sub": TELEMETRY["sub"]}}))
    assert [m.split(": ", 2)[1] for m in _grants(found)] == ["noauth.permissions.pub.allow[0]"] * 2
    assert "'$JS.CSC.API.x'" in _grants(found)[0]


def test_a_hand_written_csc_without_lists_takes_every_subject_addressed_to_a_cpc_as_a_command() -> None:
    leaf = {"public_key": "${NKEY_LEAF_CPC_a_PUBKEY}", "account": "CSC", "permissions": TELEMETRY}
    noauth = {"account": "CSC", "permissions": {"pub": {"allow": ["cpc.*.sensor.>"]}, "sub": TELEMETRY["sub"]}}
    found = _hand(_with(nkey={"leaf-cpc-a": leaf}, noauth=noauth))
    (message,) = _grants(found)
    assert "noauth.permissions.pub.allow[0]: allows pub 'cpc.*.sensor.>', so anonymous clients (noauth) may " in message
    assert "'cpc.x.sensor.x': a subject addressed to a CPC" in message


def test_a_deny_list_is_honoured_as_the_auth_callout_applies_it() -> None:
    app = {"pub": {"allow": [">"], "deny": ["$JS.>", "$KV.>", "$OBJ.>", "$SYS.>", "$MQTT.>"]}}
    assert _grants(_hand(_with(oauth2={"app": {"azp": "app", "account": "SYS", "permissions": app}}))) == []


@pytest.mark.parametrize(
    ("kind", "name", "judged"),
    [
        ("nkey", "nack-controller", False),
        ("nkey", "surveyor", False),
        ("mtls", "sveltos-agent", False),
        ("nkey", "my-service", True),
        ("mtls", "my-client", True),
    ],
)
def test_dsx_bus_own_identities_are_left_alone_and_the_operators_are_judged(kind: str, name: str, judged: bool) -> None:
    entry = {"account": "CPC", "public_key": "${KEY}", "identity": "CN=x"}
    found = _grants(_hand(_with(**{kind: {name: entry}})))
    assert bool(found) is judged


def test_a_cpc_release_gives_the_telemetry_its_window_may_send_up() -> None:
    window = {
        "account": "CSC",
        "identity": "CN=window",
        "permissions": {"pub": {"allow": ["cpc.1.sensor.>", "cpc.2.sensor.>"]}, "sub": TELEMETRY["sub"]},
    }
    accounts = programs.cpc_accounts("1", ["broadcast.>"], ["command.>"], ["sensor.>"])
    found = _grants(_hand(_with(mtls={"window": window}), lambda: programs.nats_release(accounts)))
    assert [m.split(": ", 2)[1] for m in found] == ["mtls.window.permissions.pub.allow[1]"]
    assert "'cpc.2.sensor.x': a subject that crosses the leaf to the CSC" in found[0]


def test_the_policy_config_refuses_a_risk_that_does_not_exist() -> None:
    config = copy.deepcopy(CONFIG)
    config[GRANTS]["acknowledged"] = {"csc": {"noauth": ["everything"]}}
    with pytest.raises(jsonschema.ValidationError):
        analyzer.reconcile(analyzer.servicer(), config)
