"""CPC leafs on the CSC: every deployed CPC is admitted with a valid user key, and confined to its own CPC."""

from __future__ import annotations

import json
from typing import Any

import pytest

from dsxbus import naming, nkeys, topology
from dsxbus.config import CrossLayer
from tests.policy import analyzer, programs
from tests.policy.analyzer import Diagnostic

CONFIG = analyzer.example_config()
ADMITTED = "leaf-keys-admitted"
LEAST = "leaf-least-privilege"
PENDING = "cpcs-pending"
ENV = naming.leaf_pubkey_env("a")


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        (
            nkeys.generate(nkeys.KeyKind.ACCOUNT).public_key,
            "is an account key (A...), but a leaf signs in with a user key (U...)",
        ),
        ("UNOTAKEY", "is not an NKey public key (public key decodes to 5 bytes, expected 35)"),
    ],
)
def test_a_leaf_key_secret_holding_an_invalid_key_is_refused(key: str, problem: str) -> None:
    # The program refuses such a CPC export before declaring anything (dsxbus.stackoutputs); the pack still
    # checks the Secret the auth-callout reads, whoever wrote it.
    env = [{"name": ENV, "valueFrom": {"secretKeyRef": {"name": naming.leaf_pubkey_secret("a"), "key": "pubkey"}}}]
    found = _leaf_program(_document({"leaf-cpc-a": _entry(f"${{{ENV}}}")}), env, pubkey=key)
    assert analyzer.summary(analyzer.mandatory(found)) == [(ADMITTED, "MANDATORY", "auth-callout-permissions")]
    assert analyzer.only(found, ADMITTED).message == (
        "ConfigMap auth-callout-permissions: nkey entry leaf-cpc-a public_key "
        f"'${{{ENV}}}': env {ENV} from Secret nats-leaf-cpc-a key pubkey {problem}: the auth-callout refuses the "
        "leaf of CPC 'a' (the CPC logs 'Authorization Violation' and retries every second), so none of its traffic "
        "crosses. Fix: set it to the CPC's leaf user public key (U..., its stack output leafPublicKeys), e.g. by "
        "running `pulumi up` on this stack after the CPC's."
    )


def _leaf_program(document: dict[str, Any], env: list[dict[str, Any]], pubkey: str | None = None) -> list[Diagnostic]:
    def program() -> None:
        programs.permissions(document)
        programs.auth_callout_config({})
        programs.auth_callout(env)
        if pubkey is not None:
            programs.secret(naming.leaf_pubkey_secret("a"), {"pubkey": pubkey})

    return analyzer.analyze(analyzer.capture(program), CONFIG)


def _entry(public_key: str) -> dict[str, Any]:
    # The widest grant dsx-bus writes (the CSC's mqttStreams.uplinks on): the pack accepts it too.
    least = topology.leaf_permissions("a", CrossLayer(csc_exports=("broadcast.>",)), uplinks=True)
    return {
        "public_key": public_key,
        "account": "CSC",
        "permissions": json.loads(least.model_dump_json(exclude_none=True)),
    }


def _document(nkey: dict[str, Any]) -> dict[str, Any]:
    return {"oauth2": {}, "mtls": {}, "nkey": nkey, "noauth": None}


def test_a_leaf_entry_with_a_valid_literal_key_and_confined_permissions_passes() -> None:
    key = nkeys.generate(nkeys.KeyKind.USER).public_key
    assert _leaf_program(_document({"leaf-cpc-a": _entry(key)}), []) == []


def test_a_leaf_entry_whose_env_var_the_auth_callout_lacks_is_refused() -> None:
    found = _leaf_program(_document({"leaf-cpc-a": _entry(f"${{{ENV}}}")}), [])
    assert analyzer.summary(found) == [(ADMITTED, "MANDATORY", "auth-callout-permissions")]
    assert found[0].message.startswith(
        f"ConfigMap auth-callout-permissions: nkey entry leaf-cpc-a public_key '${{{ENV}}}': env {ENV} is not set in "
        "the auth-callout Deployment, so it expands to '' and matches no key: the auth-callout refuses the leaf of "
        "CPC 'a'"
    )


def test_a_leaf_key_kept_in_a_secret_without_a_permission_entry_is_refused() -> None:
    key = nkeys.generate(nkeys.KeyKind.USER).public_key
    found = _leaf_program(_document({}), [], pubkey=key)
    assert analyzer.summary(found) == [(ADMITTED, "MANDATORY", "auth-callout-permissions")]
    assert found[0].message.startswith(
        "CPC 'a': Secret nats-leaf-cpc-a holds its leaf key, but ConfigMap auth-callout-permissions has no nkey "
        "entry leaf-cpc-a: the auth-callout refuses the leaf of CPC 'a'"
    )


def test_an_empty_leaf_key_without_an_entry_is_a_pending_cpc() -> None:
    found = _leaf_program(_document({}), [], pubkey="")
    assert analyzer.summary(found) == [(PENDING, "ADVISORY", "auth-callout-permissions")]
    assert found[0].message.startswith("CPC 'a' has not been deployed yet")


def test_a_leaf_entry_without_permissions_reaches_every_other_cpc() -> None:
    # The upstream chart's leaf entry: the whole CSC account (docs/measured-facts.md §3).
    key = nkeys.generate(nkeys.KeyKind.USER).public_key
    found = _leaf_program(_document({"leaf-cpc-a": {"public_key": key, "account": "CSC"}}), [])
    assert analyzer.summary(found) == [(LEAST, "MANDATORY", "auth-callout-permissions")] * 2
    assert found[0].message == (
        "ConfigMap auth-callout-permissions: nkey entry leaf-cpc-a has no pub.allow list, so it may publish to any "
        "subject of its account: the leaf key of CPC 'a' can publish to 'cpc.x.command.x', a subject of another CPC "
        "(measured upstream: CPC 1's leaf read cpc.2.sensor.temp and injected cpc.2.command.restart; with "
        "$JS.CSC.API.> it read CPC 2's telemetry through a stream of its own and deleted CSC streams, "
        "docs/threat-model.md). Fix: allow pub only cpc.a.>, $JS.CSC-SOURCES.API.CONSUMER.CREATE.MQTT_msgs_cpc_a, "
        "$JS.CSC-SOURCES.API.CONSUMER.CREATE.MQTT_msgs_cpc_a.>, $JS.CSC-SOURCES.API.CONSUMER.CREATE.MQTT_rmsgs_cpc_a, "
        "$JS.CSC-SOURCES.API.CONSUMER.CREATE.MQTT_rmsgs_cpc_a.>, $JS.FC.MQTT_msgs_cpc_a.>, $JS.FC.MQTT_rmsgs_cpc_a.> "
        "and deny $MQTT.> (with the CSC's mqttStreams.uplinks also cpc2csc.a.>, $JSC.R.>)."
    )
    assert "has no sub.allow list, so it may subscribe to any subject" in found[1].message


def test_a_leaf_with_the_old_jetstream_and_inbox_grants_is_mandatory() -> None:
    # dsx-bus's grant before the threat model: the whole CSC JetStream API and every client's replies.
    key = nkeys.generate(nkeys.KeyKind.USER).public_key
    entry = {
        "public_key": key,
        "account": "CSC",
        "permissions": {
            "pub": {"allow": ["cpc.a.>", "$JS.CSC.API.>", "$JS.FC.>", "_INBOX.>", "_R_.>"]},
            "sub": {"allow": ["cpc.a.>", "csc2cpc.a.>", "$JS.FC.>", "_INBOX.>", "_R_.>", "$JS.CPC-a.API.>"]},
        },
    }
    found = _leaf_program(_document({"leaf-cpc-a": entry}), [])
    reached = sorted(d.message.split(" can ", 1)[1].split(" (measured")[0] for d in found)
    mqtt_store = "'$MQTT.msgs.cpc.x.command.x', the CSC's MQTT store"
    assert [r.split(":")[0] for r in reached if mqtt_store in r] == [
        f"publish to {mqtt_store}",
        f"subscribe to {mqtt_store}",
    ]
    assert [r for r in reached if mqtt_store not in r] == [
        "publish to '$JS.CSC.API.x', the CSC's JetStream API (stream admin, other streams' messages, republish into "
        "any subject)",
        "publish to '$JS.FC.MQTT_msgs_cpc_x.x', a subject of another CPC",
        "publish to '_INBOX.x', the replies every CSC client waits for (a forged answer)",
        "subscribe to '$JS.FC.MQTT_msgs_cpc_x.x', a subject of another CPC",
        "subscribe to '_INBOX.x', the replies every CSC client receives",
    ]


def test_a_leaf_allowed_to_read_every_cpcs_sensors_is_mandatory() -> None:
    key = nkeys.generate(nkeys.KeyKind.USER).public_key
    entry = _entry(key)
    entry["permissions"]["sub"]["allow"].append("cpc.*.sensor.>")
    found = _leaf_program(_document({"leaf-cpc-a": entry}), [])
    assert analyzer.summary(found) == [(LEAST, "MANDATORY", "auth-callout-permissions")]
    assert "nkey entry leaf-cpc-a allows sub 'cpc.*.sensor.>': the leaf key of CPC 'a' can subscribe to " in (
        found[0].message
    )
    assert "'cpc.x.sensor.x', a subject of another CPC" in found[0].message


def test_extra_account_leafs_are_not_confined_by_design() -> None:
    key = nkeys.generate(nkeys.KeyKind.USER).public_key
    entry = {"public_key": key, "account": "LaunchLayer"}
    assert _leaf_program(_document({naming.leaf_permission("a", "LaunchLayer"): entry}), []) == []
