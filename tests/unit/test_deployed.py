"""Reading deployed configuration back: each reader is the inverse of the dsx-bus renderer that writes it."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dsxbus import deployed, naming, natsconf, nkeys, permissions, render, topology
from dsxbus.config import CrossLayer, EventBus

_patterns = st.builds(
    lambda tokens, tail: ".".join(tokens + ([">"] if tail else [])),
    st.lists(st.sampled_from(["a", "b", "*", "cpc", "x"]), min_size=1, max_size=3),
    st.booleans(),
)
_lists = st.lists(_patterns, max_size=3)


def _accounts(cluster_id: str, lists: CrossLayer) -> dict[str, object]:
    """The accounts tree as the CPC's chart values carry it (natsconf renders, chart_merge quotes variables)."""
    tree = natsconf.chart_merge(natsconf.accounts_tree(topology.cpc_accounts(cluster_id, lists)))
    return dict(tree)


def _chart_format(tree: dict[str, object]) -> str:
    """nats.conf as the upstream nats chart writes it: toPrettyRawJson, then `"<< $X >>"` unquoted to `$X`."""
    text = json.dumps(tree, indent=2)
    return re.sub(r'"<<\s+(.*)\s+>>"', r"\1", text)  # the chart's nats.formatConfig regexReplaceAll


@given(_lists, _lists, _lists, st.sampled_from(["a", "b", "x", "10"]))
@settings(max_examples=200, deadline=None)
def test_the_lists_come_back_from_the_accounts_topology_renders(
    csc: list[str], prefixed: list[str], cpc: list[str], cluster_id: str
) -> None:
    lists = CrossLayer(csc_exports=tuple(csc), csc_prefixed_exports=tuple(prefixed), cpc_exports=tuple(cpc))
    found = deployed.cross_layer_of_accounts(_accounts(cluster_id, lists))
    assert found == deployed.DeployedCrossLayer(cluster_id, lists)


def test_a_cscexport_equal_to_the_generated_sourcing_import_is_still_read_as_a_list_entry() -> None:
    lists = CrossLayer(csc_exports=("csc2cpc.a.>", "broadcast.>"))
    found = deployed.cross_layer_of_accounts(_accounts("a", lists))
    assert found is not None and found.lists.csc_exports == ("csc2cpc.a.>", "broadcast.>")


def test_the_csc_accounts_have_no_cross_layer_lists() -> None:
    csc = EventBus.model_validate({"clusterType": "csc", "authCallout": {"image": "x:1"}})
    accounts = natsconf.accounts_tree(topology.cluster_accounts(csc))
    assert deployed.cross_layer_of_accounts(dict(accounts)) is None


def test_hand_written_accounts_without_generated_subjects_still_give_the_cpc_id_and_lists() -> None:
    accounts = {
        "CSC": {"imports": [{"stream": {"account": "CPC", "subject": "t.>"}, "to": "cpc.7.t.>"}]},
        "CPC": {
            "imports": [
                {"stream": {"account": "CSC", "subject": "b.>"}},
                {"stream": {"account": "CSC", "subject": "cpc.7.c.>"}, "to": "c.>"},
            ]
        },
    }
    assert deployed.cross_layer_of_accounts(accounts) == deployed.DeployedCrossLayer(
        "7", CrossLayer(csc_exports=("b.>",), csc_prefixed_exports=("c.>",), cpc_exports=("t.>",))
    )


def test_the_chart_rendered_nats_conf_parses_back_to_the_chart_values() -> None:
    bus = EventBus.model_validate(
        {
            "clusterType": "cpc",
            "clusterId": "a",
            "cscEndpoint": "nats://leaf.example.com:7422",
            "crossLayer": {"cscExports": ["broadcast.>"], "cpcExports": ["sensor.>"]},
            "authCallout": {"image": "x:1"},
        }
    )
    merge = natsconf.chart_merge(render.cluster_files(bus).nats_conf)
    text = _chart_format(merge)
    assert "$LEAF_USER_SEED" in text and "<<" not in text  # bare variables, as the pod's nats.conf has them
    assert deployed.chart_nats_conf(text) == merge


def test_include_lines_are_dropped_from_a_chart_rendered_nats_conf() -> None:
    text = '{\n  "port": 4222,\n  include accounts/accounts.conf;\n}'
    assert deployed.chart_nats_conf(text) == {"port": 4222}


def test_text_that_is_not_the_chart_format_is_not_read() -> None:
    assert deployed.chart_nats_conf("port: 4222\naccounts { CSC {} }\n") is None


def test_an_env_reference_names_its_variable() -> None:
    assert deployed.env_reference("${NKEY_LEAF_CPC_a_PUBKEY}") == "NKEY_LEAF_CPC_a_PUBKEY"
    assert deployed.env_reference("$X") == "X"
    assert deployed.env_reference("UABC") is None


def test_only_a_user_public_key_admits_a_leaf() -> None:
    assert deployed.leaf_key_problem(nkeys.generate(nkeys.KeyKind.USER).public_key) is None
    account = deployed.leaf_key_problem(nkeys.generate(nkeys.KeyKind.ACCOUNT).public_key)
    assert account is not None and "account key (A...)" in account
    assert deployed.leaf_key_problem("") == "is empty, which matches no key"
    garbage = deployed.leaf_key_problem("UNOTAKEY")
    assert garbage is not None and garbage.startswith("is not an NKey public key")


def _leaf_entry(cluster_id: str, lists: CrossLayer, *, uplinks: bool = False) -> dict[str, object]:
    """The leaf-cpc-<id> entry exactly as dsx-bus writes it into permissions.json."""
    csc = EventBus.model_validate(
        {
            "clusterType": "csc",
            "cpcs": {cluster_id: f"org/p/cpc-{cluster_id}"},
            "authCallout": {"image": "x:1"},
            "mqttStreams": {"uplinks": uplinks},
        }
    )
    document = permissions.permissions_document(csc, {cluster_id: lists})
    entry: dict[str, object] = document["nkey"][naming.leaf_permission(cluster_id)]
    return entry


@pytest.mark.parametrize("uplinks", [False, True])
@pytest.mark.parametrize("cluster_id", ["a", "x", "10"])
def test_the_generated_leaf_permissions_reach_no_other_cpc(cluster_id: str, uplinks: bool) -> None:
    entry = _leaf_entry(cluster_id, CrossLayer(csc_exports=("broadcast.>",)), uplinks=uplinks)
    assert deployed.leaf_reach(cluster_id, entry["permissions"]) == []


def _confined(*allow: str) -> dict[str, list[str]]:
    """An allow list with the deny every leaf needs beside it (`$MQTT.` subjects pass allow lists)."""
    return {"allow": list(allow), "deny": ["$MQTT.>"]}


@pytest.mark.parametrize("direction", ["pub", "sub"])
def test_a_leaf_allow_list_without_a_deny_of_mqtt_internals_reaches_the_csc_mqtt_store(direction: str) -> None:
    other = "sub" if direction == "pub" else "pub"
    permissions_ = {direction: {"allow": ["cpc.1.>"]}, other: _confined("cpc.1.>")}
    (reach,) = deployed.leaf_reach("1", permissions_)
    assert (reach.direction, reach.missing_deny, reach.witness) == (direction, "$MQTT.>", "$MQTT.msgs.cpc.x.command.x")
    assert reach.what.startswith("the CSC's MQTT store")


def test_a_leaf_without_permissions_reaches_every_cpc_both_ways() -> None:
    assert deployed.leaf_reach("1", None) == [
        deployed.Reach("pub", None, "cpc.x.command.x"),
        deployed.Reach("sub", None, "cpc.x.command.x"),
    ]


@pytest.mark.parametrize(
    ("pattern", "witness"),
    [
        (">", "cpc.x.x"),
        ("cpc.*.sensor.>", "cpc.x.sensor.x"),
        ("cpc.2.command.restart", "cpc.2.command.restart"),  # docs/measured-facts.md §3: CPC 1 injecting into CPC 2
        ("csc2cpc.*.>", "csc2cpc.x.x"),
        ("$JS.*.API.>", "$JS.CPC-x.API.x"),
        ("$JS.CPC-2.API.>", "$JS.CPC-2.API.x"),
    ],
)
def test_an_allow_entry_reaching_another_cpc_is_found_with_a_subject_it_allows(pattern: str, witness: str) -> None:
    permissions_ = {"pub": _confined(pattern), "sub": _confined("cpc.1.>")}
    assert deployed.leaf_reach("1", permissions_) == [deployed.Reach("pub", pattern, witness)]


@pytest.mark.parametrize(
    "pattern",
    ["cpc.1.>", "broadcast.>", "$JS.CPC-1.API.>", "$JS.CSC-SOURCES.API.CONSUMER.CREATE.MQTT_msgs_cpc_1.>", "_R_.>"],
)
def test_an_allow_entry_within_its_own_cpc_or_outside_every_cpc_is_fine(pattern: str) -> None:
    assert deployed.leaf_reach("1", {"pub": _confined(pattern), "sub": _confined(pattern)}) == []


@pytest.mark.parametrize(
    ("direction", "pattern", "witness", "what"),
    [
        ("pub", "$JS.CSC.API.>", "$JS.CSC.API.x", "the CSC's JetStream API"),
        (
            "pub",
            "$JS.CSC-SOURCES.API.>",
            "$JS.CSC-SOURCES.API.CONSUMER.CREATE.MQTT_msgs_cpc_x",
            "a subject of another CPC",
        ),
        ("pub", "$JS.CSC.API.STREAM.>", "$JS.CSC.API.STREAM.x", "the CSC's JetStream API"),
        ("pub", "$JS.API.>", "$JS.API.x", "the CSC's JetStream API"),
        ("pub", "$JS.FC.>", "$JS.FC.MQTT_msgs_cpc_x.x", "a subject of another CPC"),
        ("sub", "_INBOX.>", "_INBOX.x", "the replies every CSC client receives"),
    ],
)
def test_the_grants_leafs_had_before_are_found_beyond_their_own_cpc(
    direction: str, pattern: str, witness: str, what: str
) -> None:
    other = "pub" if direction == "sub" else "sub"
    (reach,) = deployed.leaf_reach("1", {direction: _confined(pattern), other: _confined("cpc.1.>")})
    assert (reach.direction, reach.pattern, reach.witness) == (direction, pattern, witness)
    assert reach.what.startswith(what)


def test_jwks_settings_come_from_env_before_config_yaml() -> None:
    config = {"jwks": {"url": "https://idp/jwks.json", "issuer": "https://idp"}}
    sources = deployed.jwks_sources(config, {"AUTH_CALLOUT_JWKS_AUDIENCE": "dsx", "JWKS_ISSUER": ""})
    assert sources == {
        "url": "config.yaml jwks.url = 'https://idp/jwks.json'",
        "issuer": "config.yaml jwks.issuer = 'https://idp'",
        "audience": "env AUTH_CALLOUT_JWKS_AUDIENCE",
    }
    assert deployed.jwks_sources(None, {}) == {"url": None, "issuer": None, "audience": None}
