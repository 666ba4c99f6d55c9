"""A referenced stack's outputs (dsxbus.stackoutputs): what a CSC reads from its CPCs and a CPC from its CSC."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dsxbus import naming, nkeys, versions
from dsxbus.config import CrossLayer, FleetDefaults
from dsxbus.domains import leaf_url_problem
from dsxbus.stackoutputs import CPC_OUTPUTS, CSC_OUTPUTS, StackOutputError, read_cpcs, read_csc

CPC_A = "organization/dsx-bus/cpc-a"
CSC = "organization/dsx-bus/csc"
USER = nkeys.keypair_from_entropy(nkeys.KeyKind.USER, b"\x01" * 32).public_key
OTHER_USER = nkeys.keypair_from_entropy(nkeys.KeyKind.USER, b"\x02" * 32).public_key
ACCOUNT = nkeys.keypair_from_entropy(nkeys.KeyKind.ACCOUNT, b"\x01" * 32).public_key


def _cpc(**changes: object) -> dict[str, object]:
    """What a deployed CPC `a` exports (components/cpc.py)."""
    outputs: dict[str, object] = {
        "clusterType": "cpc",
        "clusterId": "a",
        "leafPublicKeys": {"CSC": USER, "LaunchLayer": OTHER_USER},
        "crossLayer": {"cscExports": ["broadcast.>"], "cscPrefixedExports": [], "cpcExports": ["sensor.>"]},
        "natsServerVersion": versions.DEPLOYED,
        "cscEndpoint": "nats://leaf.csc.example.com:7422",
    }
    outputs.update(changes)
    return outputs


def _csc(**changes: object) -> dict[str, object]:
    """What a deployed CSC exports (components/csc.py)."""
    outputs: dict[str, object] = {
        "clusterType": "csc",
        "leafEndpoint": "nats://leaf.csc.example.com:7422",
        "fleetDefaults": {"crossLayer": {"cscExports": ["broadcast.>"]}},
        "pendingCpcs": [],
        "cpcs": {"a": CPC_A},
    }
    outputs.update(changes)
    return outputs


def _refused_cpc(outputs: Mapping[str, object]) -> list[str]:
    with pytest.raises(StackOutputError) as raised:
        read_cpcs("csc", {"a": CPC_A}, {"a": outputs})
    return raised.value.lines()


def _refused_csc(outputs: Mapping[str, object]) -> list[str]:
    with pytest.raises(StackOutputError) as raised:
        read_csc("cpc-a", CSC, outputs)
    return raised.value.lines()


def test_a_deployed_cpc_is_read_with_its_keys_lists_and_version() -> None:
    read = read_cpcs("csc", {"a": CPC_A}, {"a": _cpc()})["a"]
    assert read is not None
    assert dict(read.leaf_public_keys) == {"CSC": USER, "LaunchLayer": OTHER_USER}
    assert read.cross_layer == CrossLayer(csc_exports=("broadcast.>",), cpc_exports=("sensor.>",))
    assert read.nats_server_version == versions.DEPLOYED


def test_a_cpc_stack_that_exports_nothing_is_pending() -> None:
    assert read_cpcs("csc", {"a": CPC_A}, {"a": {}}) == {"a": None}
    assert read_cpcs("csc", {"a": CPC_A}, {"a": dict.fromkeys(CPC_OUTPUTS)}) == {"a": None}


def test_a_cpc_without_lists_or_version_yet_is_read_with_none() -> None:
    read = read_cpcs("csc", {"a": CPC_A}, {"a": _cpc(crossLayer=None, natsServerVersion=None)})["a"]
    assert read is not None
    assert (read.cross_layer, read.nats_server_version) == (None, None)


def test_a_cpc_entry_pointing_at_another_cpc_is_refused_naming_both_stacks_and_the_fix() -> None:
    lines = _refused_cpc(_cpc(clusterId="b"))
    assert lines == [
        f"Pulumi.csc.yaml: dsx-bus:eventBus.cpcs.a -> {CPC_A} output clusterId = 'b': the CSC lists this stack as "
        "CPC 'a', but it is CPC 'b': point cpcs.a at CPC a's stack",
        "1 problem(s) in Pulumi.csc.yaml; nothing was changed",
    ]


def test_a_cpc_entry_pointing_at_a_csc_stack_is_refused() -> None:
    lines = _refused_cpc(_csc())
    assert lines[0] == (
        f"Pulumi.csc.yaml: dsx-bus:eventBus.cpcs.a -> {CPC_A} output clusterType = 'csc': "
        "dsx-bus:eventBus.cpcs.a must name a CPC stack, and this is a CSC stack: point it at the CPC's stack"
    )
    assert len(lines) == 2  # its other outputs would only repeat that it is no CPC


def test_a_cpc_stack_that_exports_no_cluster_type_is_no_dsx_bus_stack() -> None:
    lines = _refused_cpc({k: v for k, v in _cpc().items() if k != "clusterType"})
    assert "output clusterType = None" in lines[0]
    assert "this is no dsx-bus stack" in lines[0]


@pytest.mark.parametrize("cluster_id", [None, 1, "A", "a\n", ["a"]])
def test_a_cpc_cluster_id_that_is_no_id_is_refused(cluster_id: object) -> None:
    lines = _refused_cpc(_cpc(clusterId=cluster_id))
    assert lines[0].endswith(
        f"output clusterId = {cluster_id!r}: the CSC lists this stack as CPC 'a', but it is "
        "no CPC: point cpcs.a at CPC a's stack"
    )


@pytest.mark.parametrize("keys", [None, "U...", ["CSC"], {}, 7])
def test_leaf_public_keys_that_are_no_mapping_are_refused(keys: object) -> None:
    lines = _refused_cpc(_cpc(leafPublicKeys=keys))
    assert (
        f"output leafPublicKeys = {keys!r}: a deployed CPC exports a mapping of account -> leaf public key"
        in (lines[0])
    )


@pytest.mark.parametrize(
    "key", [ACCOUNT, "UNOTAKEY", USER[:-1] + ("A" if USER[-1] != "A" else "B"), USER.lower(), 5, None]
)
def test_a_leaf_public_key_that_is_no_user_nkey_is_refused(key: object) -> None:
    lines = _refused_cpc(_cpc(leafPublicKeys={"CSC": USER, "LaunchLayer": key}))
    assert lines[0].endswith(
        f"output leafPublicKeys.LaunchLayer = {key!r}: not a user public NKey (U..., valid checksum): run "
        "`pulumi up` on that CPC stack again"
    )


def test_next_leaf_public_keys_are_read_and_absent_ones_admit_nothing_ahead() -> None:
    ahead = read_cpcs("csc", {"a": CPC_A}, {"a": _cpc(nextLeafPublicKeys={"CSC": OTHER_USER})})["a"]
    absent = read_cpcs("csc", {"a": CPC_A}, {"a": _cpc()})["a"]
    assert ahead is not None and absent is not None
    assert (dict(ahead.next_leaf_public_keys), dict(absent.next_leaf_public_keys)) == ({"CSC": OTHER_USER}, {})


@pytest.mark.parametrize("keys", ["U...", {"CSC": ACCOUNT}, {"LaunchLayer": USER}, {}])
def test_next_leaf_public_keys_that_are_no_leaf_keys_are_refused_and_nothing_is_admitted(keys: object) -> None:
    lines = _refused_cpc(_cpc(nextLeafPublicKeys=keys))
    assert "output nextLeafPublicKeys" in lines[0]


def test_leaf_public_keys_without_the_csc_account_are_refused() -> None:
    lines = _refused_cpc(_cpc(leafPublicKeys={"LaunchLayer": USER}))
    assert f"has no key for the {naming.CSC} account" in lines[0]


@pytest.mark.parametrize(
    ("lists", "where"),
    [
        ("sensor.>", "output crossLayer = 'sensor.>': must be a mapping (CrossLayer)"),
        (["sensor.>"], "output crossLayer = ['sensor.>']: must be a mapping (CrossLayer)"),
        ({"cpcExports": "sensor.>"}, "output crossLayer.cpcExports = 'sensor.>'"),
        ({"cpcExports": [1]}, "output crossLayer.cpcExports[0] = 1"),
        ({"surprise": []}, "output crossLayer.surprise = []"),
    ],
)
def test_a_cross_layer_output_that_is_no_cross_layer_is_refused(lists: object, where: str) -> None:
    lines = _refused_cpc(_cpc(crossLayer=lists))
    assert where in lines[0]
    assert lines[0].startswith(f"Pulumi.csc.yaml: dsx-bus:eventBus.cpcs.a -> {CPC_A} ")


@pytest.mark.parametrize("version", ["latest", "2.12", 2.12, ["2.12.6"]])
def test_a_nats_server_version_that_is_no_version_is_refused(version: object) -> None:
    lines = _refused_cpc(_cpc(natsServerVersion=version))
    assert f"output natsServerVersion = {version!r}: not a nats-server version" in lines[0]


def test_every_wrong_cpc_output_is_listed_at_once() -> None:
    lines = _refused_cpc(_cpc(clusterId="b", crossLayer="x", natsServerVersion="x"))
    assert len(lines) == 4


def test_a_deployed_csc_is_read_with_its_endpoint_and_fleet_defaults() -> None:
    read = read_csc("cpc-a", CSC, _csc())
    assert read.leaf_endpoint == "nats://leaf.csc.example.com:7422"
    assert read.fleet_defaults == FleetDefaults(cross_layer=CrossLayer(csc_exports=("broadcast.>",)))


def test_a_csc_stack_that_exports_nothing_is_not_deployed_yet() -> None:
    read = read_csc("cpc-a", CSC, {})
    assert (read.leaf_endpoint, read.fleet_defaults) == (None, None)


def test_a_csc_reference_pointing_at_a_cpc_stack_is_refused_naming_both_stacks() -> None:
    lines = _refused_csc(_cpc())
    assert lines == [
        f"Pulumi.cpc-a.yaml: dsx-bus:eventBus.cscStack -> {CSC} output clusterType = 'cpc': "
        "dsx-bus:eventBus.cscStack must name a CSC stack, and this is a CPC stack: point it at the CSC's stack",
        "1 problem(s) in Pulumi.cpc-a.yaml; nothing was changed",
    ]


def test_a_csc_reference_to_a_stack_of_no_kind_is_one_problem_however_much_else_is_wrong() -> None:
    lines = _refused_csc({"leafEndpoint": 1, "fleetDefaults": "x"})
    assert len(lines) == 2
    assert "output clusterType = None" in lines[0] and "this is no dsx-bus stack" in lines[0]


@pytest.mark.parametrize(
    "endpoint",
    [
        "leaf.csc.example.com:7422",
        "http://leaf.csc.example.com:7422",
        "nats://leaf.csc.example.com",
        "nats://leaf.csc.example.com:0",
        "nats://leaf.csc.example.com:65536",
        "nats://leaf.csc.example.com:7422\ninclude /etc/passwd",
        "nats://leaf csc:7422",
        "nats://leaf.csc.example.com:7422/path?q=1",
        "",
        7422,
        ["nats://leaf.csc.example.com:7422"],
    ],
)
def test_a_leaf_endpoint_that_is_no_leaf_url_is_refused(endpoint: object) -> None:
    lines = _refused_csc(_csc(leafEndpoint=endpoint))
    assert lines[0] == (
        f"Pulumi.cpc-a.yaml: dsx-bus:eventBus.cscStack -> {CSC} output leafEndpoint = {endpoint!r}: not a leaf URL "
        "(scheme nats, tls, ws, wss, a host, a port 1-65535, e.g. nats://leaf.csc.example.com:7422): fix the CSC's "
        "leafEndpoint and run `pulumi up` on the CSC stack, or set cscEndpoint here"
    )


@pytest.mark.parametrize("port", [1, 7422, 65535])
def test_a_leaf_url_port_from_1_to_65535_is_accepted(port: int) -> None:
    assert leaf_url_problem(f"tls://leaf.csc.example.com:{port}") is None


@pytest.mark.parametrize(
    ("defaults", "where"),
    [
        ("{}", "output fleetDefaults = '{}': must be a mapping (FleetDefaults)"),
        ({"jwks": {"url": "https://idp"}}, "output fleetDefaults.jwks = {'url': 'https://idp'}: sets url but not"),
        ({"crossLayer": {"cscExports": 3}}, "output fleetDefaults.crossLayer.cscExports = 3"),
    ],
)
def test_fleet_defaults_that_are_no_fleet_defaults_are_refused(defaults: object, where: str) -> None:
    lines = _refused_csc(_csc(fleetDefaults=defaults))
    assert where in lines[0]


# ---- any value at all: the clean error or a reading --------------------------------------------------------------

_json: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
_subject = st.from_regex(r"[a-z]{1,6}(\.[a-z]{1,6}){0,2}(\.>)?", fullmatch=True)
_user_keys = st.binary(min_size=32, max_size=32).map(
    lambda b: nkeys.keypair_from_entropy(nkeys.KeyKind.USER, b).public_key
)


@settings(max_examples=100, deadline=None)
@given(st.fixed_dictionaries({}, optional=dict.fromkeys(CPC_OUTPUTS, _json)), st.sampled_from(["csc", "cpc"]))
def test_any_cpc_outputs_give_a_reading_or_the_clean_error(exported: dict[str, Any], kind: str) -> None:
    exported.setdefault("clusterType", kind)  # else nearly every example stops at the kind
    try:
        read = read_cpcs("csc", {"a": CPC_A}, {"a": exported})["a"]
    except StackOutputError as exc:
        assert all(CPC_A in line for line in exc.lines()[:-1])
    else:  # admitted: only what a CPC `a` exports
        assert read is None or (exported["clusterId"] == "a" and "CSC" in read.leaf_public_keys)


@settings(max_examples=100, deadline=None)
@given(st.fixed_dictionaries({}, optional=dict.fromkeys(CSC_OUTPUTS, _json)), st.sampled_from(["csc", "cpc"]))
def test_any_csc_outputs_give_a_reading_or_the_clean_error(exported: dict[str, Any], kind: str) -> None:
    exported.setdefault("clusterType", kind)
    try:
        read = read_csc("cpc-a", CSC, exported)
    except StackOutputError as exc:
        assert all(CSC in line for line in exc.lines()[:-1])
    else:
        assert read.leaf_endpoint is None or leaf_url_problem(read.leaf_endpoint) is None


@settings(max_examples=60, deadline=None)
@given(
    st.from_regex(r"[a-z0-9]{1,8}", fullmatch=True),
    st.dictionaries(st.from_regex(r"[A-Z][A-Za-z]{0,8}", fullmatch=True), _user_keys, max_size=3),
    _user_keys,
    st.lists(_subject, max_size=3),
    st.sampled_from(versions.SUPPORTED),
)
def test_valid_cpc_outputs_are_read_back(
    cluster_id: str, extra: dict[str, str], csc_key: str, exports: list[str], version: str
) -> None:
    keys = {**extra, "CSC": csc_key}
    lists = CrossLayer(cpc_exports=tuple(exports))
    exported = {
        "clusterType": "cpc",
        "clusterId": cluster_id,
        "leafPublicKeys": keys,
        "crossLayer": lists.model_dump(mode="json", by_alias=True),
        "natsServerVersion": version,
    }
    read = read_cpcs("csc", {cluster_id: CPC_A}, {cluster_id: exported})[cluster_id]
    assert read is not None
    assert (dict(read.leaf_public_keys), read.cross_layer, read.nats_server_version) == (keys, lists, version)


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(["nats", "tls", "ws", "wss"]),
    st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?(\.[a-z0-9]{1,8}){0,3}", fullmatch=True),
    st.integers(1, 65535),
    st.lists(_subject, max_size=3),
)
def test_valid_csc_outputs_are_read_back(scheme: str, host: str, port: int, exports: list[str]) -> None:
    defaults = FleetDefaults(cross_layer=CrossLayer(csc_exports=tuple(exports)))
    url = f"{scheme}://{host}:{port}"
    exported = {
        "clusterType": "csc",
        "leafEndpoint": url,
        "fleetDefaults": defaults.model_dump(mode="json", by_alias=True, exclude_none=True),
    }
    read = read_csc("cpc-a", CSC, exported)
    assert (read.leaf_endpoint, read.fleet_defaults) == (url, defaults)
