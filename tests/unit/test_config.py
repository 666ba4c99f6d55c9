"""Bad stack configs: each rule, with the key an operator must edit, the value found and the fix offered.

Each test changes one thing on a valid CPC (`_cpc`) or CSC (`_csc`) shaped like the example stack files.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from dsxbus import checks, stackfile
from dsxbus.config import EventBus, FleetDefaults, Jwks
from dsxbus.errors import ConfigError, Problem

ROOT = Path(__file__).resolve().parents[2]
KEY = "dsx-bus:eventBus"
LEAF_PUBLIC_KEY = "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4"
TEST_ONLY = {"pub": {"allow": ["test.>"]}, "sub": {"allow": ["test.>"]}}
"""Permissions that reach nothing dsxbus.grants refuses: entries added to test another rule carry them."""

_CPC: dict[str, Any] = {
    "clusterType": "cpc",
    "clusterId": "a",
    "cscStack": "organization/dsx-bus/csc",
    "namespace": "dsx",
    "mtls": {
        "enabled": True,
        "hostnames": ["mqtt-mtls.cpc-a.dsx.example.com"],
        "certificateIssuer": {"name": "dsx-ca", "kind": "ClusterIssuer"},
        "clientUrls": ["ssl://mqtt-mtls.cpc-a.dsx.example.com:8883"],
    },
    "extraAccounts": {"LaunchLayer": {"enabled": True}},
    "auth": {
        "permissions": {
            "oauth2": {
                "mqtt-client": {
                    "azp": "mqtt-client",
                    "account": "CPC",
                    "permissions": {"pub": {"allow": ["test.>"]}, "sub": {"allow": ["test.>"]}},
                },
                "launchlayer-client": {
                    "azp": "launchlayer-client",
                    "account": "LaunchLayer",
                    "permissions": {"pub": {"allow": ["launch.>"]}, "sub": {"allow": ["launch.>"]}},
                },
            },
            "mtls": {
                "mqtt-client": {
                    "identity": "CN=mqtt-client.cpc-a",
                    "account": "CPC",
                    "permissions": {"pub": {"allow": ["test.>"]}, "sub": {"allow": ["test.>"]}},
                }
            },
            "noauth": {
                "account": "CPC",
                "permissions": {"pub": {"allow": ["sensor.>"]}, "sub": {"allow": ["broadcast.>", "command.>"]}},
            },
        }
    },
    "authCallout": {"image": "registry.dsx.example.com/dsx-exchange/auth-callout:v0.1.0"},
}

_CSC: dict[str, Any] = {
    "clusterType": "csc",
    "leafEndpoint": "nats://leaf.csc.dsx.example.com:7422",
    "cpcs": {"a": "organization/dsx-bus/cpc-a", "b": "organization/dsx-bus/cpc-b"},
    "namespace": "dsx",
    "crossLayer": {"cscExports": ["broadcast.>"], "cscPrefixedExports": ["command.>"], "cpcExports": ["sensor.>"]},
    "mtls": {
        "enabled": True,
        "hostnames": ["mqtt-mtls.csc.dsx.example.com"],
        "certificateIssuer": {"name": "dsx-ca", "kind": "ClusterIssuer"},
        "clientUrls": ["ssl://mqtt-mtls.csc.dsx.example.com:8883"],
    },
    "extraAccounts": {"LaunchLayer": {"enabled": True, "jetstream": True}},
    "auth": {
        "jwks": {
            "url": "https://idp.dsx.example.com/.well-known/jwks.json",
            "issuer": "https://idp.dsx.example.com",
            "audience": "dsx-exchange",
        },
        "permissions": {
            "oauth2": {
                "csc-admin": {
                    "subject": "csc-admin",
                    "account": "CSC",
                    "acknowledge": ["crossClusterCommands", "serverApis"],
                },
                "launchlayer-client": {
                    "azp": "launchlayer-client",
                    "account": "LaunchLayer",
                    "acknowledge": ["serverApis"],
                },
            },
            "mtls": {
                "mqtt-client": {
                    "identity": "CN=mqtt-client.csc",
                    "account": "CSC",
                    "permissions": {"pub": {"allow": ["test.>"]}, "sub": {"allow": ["test.>"]}},
                }
            },
        },
    },
    "authCallout": {"image": "registry.dsx.example.com/dsx-exchange/auth-callout:v0.1.0"},
}


def _cpc(**overrides: object) -> dict[str, Any]:
    raw = copy.deepcopy(_CPC)
    raw.update(copy.deepcopy(overrides))
    return raw


def _csc(**overrides: object) -> dict[str, Any]:
    raw = copy.deepcopy(_CSC)
    raw.update(copy.deepcopy(overrides))
    return raw


def _errors(raw: object) -> list[Problem]:
    with pytest.raises(ConfigError) as caught:
        stackfile.parse(raw, source="Pulumi.test.yaml")
    return [p for p in caught.value.problems if not p.warning]


def _only_error(raw: object) -> Problem:
    errors = _errors(raw)
    assert len(errors) == 1, [str(e) for e in errors]
    return errors[0]


def _with_permissions(base: dict[str, Any], kind: str, entries: object) -> dict[str, Any]:
    raw = copy.deepcopy(base)
    raw["auth"]["permissions"][kind] = entries
    return raw


# ---- the bases and the examples are valid ---------------------------------------------------------


def test_the_cpc_base_is_valid() -> None:
    bus, warnings = stackfile.parse(_cpc())
    assert bus.cluster_id == "a"
    assert warnings == ()


def test_the_csc_base_is_valid() -> None:
    bus, warnings = stackfile.parse(_csc())
    assert bus.cpc_ids == ("a", "b")
    assert warnings == ()


@pytest.mark.parametrize("stack", ["csc", "cpc-a", "cpc-b"])
def test_the_example_stack_files_load_without_errors(stack: str) -> None:
    loaded = stackfile.load_stack(ROOT, stack)
    assert loaded.name == stack
    assert all(p.warning for p in loaded.warnings)


# ---- IDs ------------------------------------------------------------------------------------------


def test_an_unquoted_numeric_cluster_id_asks_for_quotes() -> None:
    problem = _only_error(_cpc(clusterId=1))
    assert problem.key == f"{KEY}.clusterId"
    assert problem.value == 1
    assert 'quote it: clusterId: "1"' in problem.fix


def test_a_float_cluster_id_asks_for_quotes_without_a_decimal_point() -> None:
    problem = _only_error(_cpc(clusterId=2.0))
    assert problem.key == f"{KEY}.clusterId"
    assert 'clusterId: "2"' in problem.fix


def test_an_unquoted_numeric_cpc_id_asks_for_quotes() -> None:
    # The rule runs on the whole mapping, so the key is `cpcs` and the value the mapping as written.
    problem = _only_error(_csc(cpcs={1: "organization/dsx-bus/cpc-1", "b": "organization/dsx-bus/cpc-b"}))
    assert problem.key == f"{KEY}.cpcs"
    assert problem.value == {1: "organization/dsx-bus/cpc-1", "b": "organization/dsx-bus/cpc-b"}
    assert 'quote it: cpcs: {"1": ...}' in problem.fix


def test_a_cluster_id_outside_lower_case_letters_and_digits_is_refused() -> None:
    problem = _only_error(_cpc(clusterId="Cpc-1"))
    assert problem.key == f"{KEY}.clusterId"
    assert problem.value == "Cpc-1"
    assert "[a-z0-9]+" in problem.fix


def test_a_cpc_id_outside_lower_case_letters_and_digits_is_refused() -> None:
    problem = _only_error(_csc(cpcs={"a": "organization/dsx-bus/cpc-a", "B_2": "organization/dsx-bus/cpc-b"}))
    assert problem.key == f"{KEY}.cpcs.B_2"
    assert problem.value == "B_2"
    assert "[a-z0-9]+" in problem.fix


def test_a_cpc_id_written_twice_in_a_stack_file_is_an_error(tmp_path: Path) -> None:
    text = (ROOT / "Pulumi.csc.yaml").read_text()
    doubled = text.replace(
        "      b: organization/dsx-bus/cpc-b\n",
        "      b: organization/dsx-bus/cpc-b\n      a: organization/dsx-bus/cpc-c\n",
    )
    assert doubled != text
    (tmp_path / "Pulumi.csc.yaml").write_text(doubled)
    with pytest.raises(ConfigError) as caught:
        stackfile.load_stack(tmp_path, "csc")
    (problem,) = caught.value.problems
    assert problem.key == str(tmp_path / "Pulumi.csc.yaml")
    assert "the key 'a' appears twice in one mapping; keep one" in problem.fix


def test_two_cpc_ids_naming_the_same_stack_are_refused() -> None:
    problem = _only_error(_csc(cpcs={"a": "organization/dsx-bus/cpc-a", "b": "organization/dsx-bus/cpc-a"}))
    assert problem.key == f"{KEY}.cpcs"
    assert problem.value == ["a", "b"]
    assert "each CPC has its own stack" in problem.fix


# ---- extra accounts -------------------------------------------------------------------------------


def test_an_extra_account_name_with_a_dash_is_refused() -> None:
    problem = _only_error(_cpc(extraAccounts={"LaunchLayer": {}, "Launch-Pad": {}}))
    assert problem.key == f"{KEY}.extraAccounts.Launch-Pad"
    assert problem.value == "Launch-Pad"
    assert "start with a letter and use letters and digits only" in problem.fix


@pytest.mark.parametrize("name", ["SYS", "auth", "Authx", "csc", "Cpc"])
def test_a_built_in_account_name_is_refused_whatever_its_case(name: str) -> None:
    problem = _only_error(_cpc(extraAccounts={"LaunchLayer": {}, name: {}}))
    assert problem.key == f"{KEY}.extraAccounts.{name}"
    assert problem.value == name
    assert "built-in accounts; choose another name" in problem.fix


def test_an_extra_account_starting_with_cpc_is_refused() -> None:
    problem = _only_error(_cpc(extraAccounts={"LaunchLayer": {}, "cpcTools": {}}))
    assert problem.key == f"{KEY}.extraAccounts.cpcTools"
    assert problem.value == "cpcTools"
    assert "reserved for CPC routing; rename it" in problem.fix


def test_two_extra_accounts_differing_only_in_case_collide_in_env_and_secret_names() -> None:
    errors = _errors(_cpc(extraAccounts={"LaunchLayer": {}, "Tools": {}, "TOOLS": {}}))
    assert [(p.key, p.value) for p in errors] == [(f"{KEY}.extraAccounts", ["Tools", "TOOLS"])] * 2
    assert "env var token 'TOOLS'" in errors[0].fix
    assert "Secret token 'tools'" in errors[1].fix
    assert all("rename one" in p.fix for p in errors)


# ---- permissions ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base", "name"),
    [
        (_cpc, "surveyor"),
        (_cpc, "nack-controller"),
        (_cpc, "mtls-leaf"),
        (_csc, "leaf-cpc-a"),
        (_csc, "leaf-launchlayer-cpc-b"),
    ],
)
def test_an_operator_nkey_entry_named_like_a_generated_one_is_refused(base: Any, name: str) -> None:
    account = "CPC" if base is _cpc else "CSC"
    entry = {"public_key": LEAF_PUBLIC_KEY, "account": account, "permissions": TEST_ONLY}
    raw = _with_permissions(base(), "nkey", {name: entry})
    problem = _only_error(raw)
    assert problem.key == f"{KEY}.auth.permissions.nkey.{name}"
    assert problem.value == name
    assert "would overwrite yours; rename it" in problem.fix


def test_an_nkey_entry_named_mtls_leaf_is_fine_while_mtls_is_off() -> None:
    entry = {"public_key": LEAF_PUBLIC_KEY, "account": "CPC", "permissions": TEST_ONLY}
    raw = _with_permissions(_cpc(), "nkey", {"mtls-leaf": entry})
    raw["mtls"] = {"enabled": False}
    raw["auth"]["permissions"].pop("mtls")
    bus, _ = stackfile.parse(raw)
    assert "mtls-leaf" in bus.auth.permissions.nkey


@pytest.mark.parametrize(
    ("base", "env"),
    [(_cpc, "NKEY_SURVEYOR_PUBKEY"), (_cpc, "AUTH_CALLOUT_MTLS_CA_PATH"), (_csc, "NKEY_LEAF_LAUNCHLAYER_CPC_a_PUBKEY")],
)
def test_an_extra_env_reusing_a_generated_env_name_is_refused(base: Any, env: str) -> None:
    raw = base(authCallout={"image": "auth-callout:v1", "extraEnvs": {"LOG_LEVEL": "debug", env: "x"}})
    problem = _only_error(raw)
    assert problem.key == f"{KEY}.authCallout.extraEnvs.{env}"
    assert problem.value == env
    assert "dsx-bus sets this env var itself" in problem.fix
    assert "remove it" in problem.fix


@pytest.mark.parametrize(
    ("jwks", "missing"),
    [
        ({"url": "https://idp.example.com/jwks.json", "issuer": "https://idp.example.com"}, "audience"),
        ({"url": "https://idp.example.com/jwks.json"}, "issuer, audience"),
        ({"issuer": "https://idp.example.com", "audience": "dsx"}, "url"),
    ],
)
def test_a_partial_jwks_block_says_the_auth_callout_exits(jwks: dict[str, str], missing: str) -> None:
    raw = _csc()
    raw["auth"]["jwks"] = jwks
    problem = _only_error(raw)
    assert problem.key == f"{KEY}.auth.jwks"
    assert problem.value == jwks
    assert f"but not {missing}" in problem.fix
    assert "auth-callout exits at start" in problem.fix
    assert "Set all three" in problem.fix


def test_oauth2_clients_on_a_csc_without_jwks_are_refused() -> None:
    raw = _csc()
    del raw["auth"]["jwks"]
    problem = _only_error(raw)
    assert problem.key == f"{KEY}.auth.permissions.oauth2"
    assert problem.value == ["csc-admin", "launchlayer-client"]
    assert "need auth.jwks (url, issuer, audience)" in problem.fix


def test_oauth2_clients_on_a_cpc_with_a_csc_stack_wait_for_the_fleet_jwks() -> None:
    bus, warnings = stackfile.parse(_cpc())
    assert bus.auth.jwks is None
    assert warnings == ()


def test_oauth2_clients_on_a_cpc_are_refused_when_the_csc_has_no_jwks_either() -> None:
    bus, _ = stackfile.parse(_cpc())
    (problem,) = checks.effective_problems(bus, FleetDefaults())
    assert problem.key == f"{KEY}.auth.permissions.oauth2"
    assert problem.value == ["launchlayer-client", "mqtt-client"]
    assert "the CSC exports none to inherit" in problem.fix


def test_oauth2_clients_on_a_cpc_are_fine_when_the_csc_has_jwks() -> None:
    bus, _ = stackfile.parse(_cpc())
    jwks = Jwks(url="https://idp.example.com/jwks.json", issuer="https://idp.example.com", audience="dsx")
    assert checks.effective_problems(bus, FleetDefaults(jwks=jwks)) == []


def test_oauth2_clients_on_a_cpc_without_a_csc_stack_need_their_own_jwks() -> None:
    raw = _cpc(cscEndpoint="nats://leaf.csc.example.com:7422")
    del raw["cscStack"]
    problem = _only_error(raw)
    assert problem.key == f"{KEY}.auth.permissions.oauth2"
    assert "need auth.jwks" in problem.fix


def test_a_permission_naming_an_unknown_account_is_refused() -> None:
    raw = _cpc()
    raw["auth"]["permissions"]["mtls"]["mqtt-client"]["account"] = "Launchlayer"
    problem = _only_error(raw)
    assert problem.key == f"{KEY}.auth.permissions.mtls.mqtt-client.account"
    assert problem.value == "Launchlayer"
    assert "no such account on this CPC; use one of CPC, CSC, SYS, LaunchLayer" in problem.fix


def test_a_permission_naming_a_disabled_extra_account_is_refused() -> None:
    problem = _only_error(_cpc(extraAccounts={"LaunchLayer": {"enabled": False}}))
    assert problem.key == f"{KEY}.auth.permissions.oauth2.launchlayer-client.account"
    assert problem.value == "LaunchLayer"
    assert "extra accounts must be listed in extraAccounts" in problem.fix


@pytest.mark.parametrize(("subject", "reason"), [("test.>.x", "'>'"), ("test..x", "empty"), ("te st", "")])
def test_an_invalid_subject_in_permissions_is_refused(subject: str, reason: str) -> None:
    raw = _cpc()
    raw["auth"]["permissions"]["oauth2"]["mqtt-client"]["permissions"]["sub"]["allow"] = ["test.>", subject]
    problem = _only_error(raw)
    assert problem.key == f"{KEY}.auth.permissions.oauth2.mqtt-client.permissions.sub.allow[1]"
    assert problem.value == subject
    assert problem.fix.startswith("not a valid NATS subject: it ")
    assert reason in problem.fix


# ---- cross-layer lists ----------------------------------------------------------------------------


def test_overlapping_cross_layer_lists_name_both_entries_and_a_subject_both_match() -> None:
    raw = _cpc(crossLayer={"cscPrefixedExports": ["command.>"], "cpcExports": ["sensor.>", "command.reboot"]})
    problem = _only_error(raw)
    assert problem.key == f"{KEY}.crossLayer.cscPrefixedExports[0]"
    assert problem.value == "command.>"
    assert "overlaps cpcExports[1] 'command.reboot' (both match 'command.reboot')" in problem.fix
    assert "never starts" in problem.fix
    assert "Fix: remove one of the two, or narrow them" in problem.fix


def test_overlapping_fleet_cross_layer_lists_are_refused_on_the_csc() -> None:
    raw = _csc(crossLayer={"cscExports": ["broadcast.>", "cpc.a.x"]})
    problem = _only_error(raw)
    assert problem.key == f"{KEY}.crossLayer.cscExports[1]"
    assert problem.value == "cpc.a.x"
    assert "dsx-bus adds the cpc.<id>. prefix itself" in problem.fix


def test_a_broadcast_also_sent_as_a_command_is_only_a_warning() -> None:
    raw = _cpc(crossLayer={"cscExports": ["ops.>"], "cscPrefixedExports": ["ops.restart"]})
    bus, warnings = stackfile.parse(raw)
    assert bus.effective_cross_layer.csc_exports == ("ops.>",)
    (warning,) = warnings
    assert warning.warning
    assert warning.key == f"{KEY}.crossLayer.cscExports[0]"
    assert "overlaps cscPrefixedExports[0] 'ops.restart' (both match 'ops.restart')" in warning.fix


# ---- streams, mTLS and hostnames ------------------------------------------------------------------


def test_more_stream_replicas_than_nats_servers_is_refused() -> None:
    problem = _only_error(_cpc(mqttStreams={"replicas": 3}, nats={"replicas": 1}))
    assert problem.key == f"{KEY}.mqttStreams.replicas"
    assert problem.value == 3
    assert "nats.replicas = 1" in problem.fix
    assert "Lower it or add servers" in problem.fix


def test_mqtt_streams_on_file_storage_are_refused() -> None:
    problem = _only_error(_cpc(mqttStreams={"storage": "file"}))
    assert problem.key == f"{KEY}.mqttStreams.storage"
    assert "no file store" in problem.fix and "use memory" in problem.fix


@pytest.mark.parametrize("host", ["10.0.0.7", "2001:db8::7"])
def test_an_ip_literal_tlsroute_hostname_is_refused(host: str) -> None:
    raw = _cpc(mtls={"enabled": True, "hostnames": [host], "certificateIssuer": {"name": "dsx-ca"}})
    problem = _only_error(raw)
    assert problem.key == f"{KEY}.mtls.hostnames[0]"
    assert problem.value == host
    assert "TLS clients send no SNI for an IP" in problem.fix
    assert "Point a DNS name at the gateway" in problem.fix


def test_hostnames_on_the_mtls_gateway_route_are_refused_in_favour_of_mtls_hostnames() -> None:
    # The rule runs on the routes mapping, so the key is `gateway.routes`; the message names the sub-key.
    routes = {"mqttMtls": {"hostnames": ["mqtt-mtls.cpc-a.dsx.example.com"]}}
    problem = _only_error(_cpc(gateway={"routes": routes}))
    assert problem.key == f"{KEY}.gateway.routes"
    assert problem.value == routes
    assert problem.fix.startswith("mqttMtls.hostnames: set mtls.hostnames instead")


@pytest.mark.parametrize(
    "certificate",
    [{}, {"serverCertSans": ["mqtt-mtls.cpc-a.dsx.example.com"], "certificateIssuer": {"name": "dsx-ca"}}],
    ids=["neither", "both"],
)
def test_mtls_needs_exactly_one_source_of_server_certificate(certificate: dict[str, object]) -> None:
    mtls = {"enabled": True, "hostnames": ["mqtt-mtls.cpc-a.dsx.example.com"], **certificate}
    problem = _only_error(_cpc(mtls=mtls))
    assert problem.key == f"{KEY}.mtls"
    assert problem.value == "serverCertSans/certificateIssuer"
    assert problem.fix.startswith("set exactly one: serverCertSans")


def test_a_hostname_no_server_certificate_san_covers_is_refused() -> None:
    mtls = {
        "enabled": True,
        "hostnames": ["mqtt-mtls.cpc-a.dsx.example.com", "mqtt.cpc-a.dsx.example.com"],
        "serverCertSans": ["mqtt-mtls.cpc-a.dsx.example.com"],
    }
    problem = _only_error(_cpc(mtls=mtls))
    assert problem.key == f"{KEY}.mtls.hostnames"
    assert problem.value == "mqtt.cpc-a.dsx.example.com"
    assert "no SAN of the server certificate ['mqtt-mtls.cpc-a.dsx.example.com'] covers it" in problem.fix
    assert "Add it to the certificate" in problem.fix


def test_a_wildcard_san_covers_a_hostname_one_label_below() -> None:
    mtls = {"enabled": True, "hostnames": ["mqtt.cpc-a.dsx.example.com"], "serverCertSans": ["*.cpc-a.dsx.example.com"]}
    bus, _ = stackfile.parse(_cpc(mtls=mtls))
    assert bus.mtls.server_cert_sans == ("*.cpc-a.dsx.example.com",)


_V1 = "gateway.networking.k8s.io/v1"
_OWN_CERTIFICATE_WITHOUT_HOSTNAMES = {"enabled": True, "serverCertSans": ["mqtt-mtls.cpc-a.dsx.example.com"]}


@pytest.mark.parametrize("version", [_V1, "gateway.networking.k8s.io/v1alpha3"])
def test_a_tls_route_version_that_requires_hostnames_without_mtls_hostnames_is_refused(version: str) -> None:
    raw = _cpc(mtls=_OWN_CERTIFICATE_WITHOUT_HOSTNAMES, gateway={"tlsRouteApiVersion": version})
    problem = _only_error(raw)
    assert problem.key == f"{KEY}.mtls.hostnames"
    assert problem.fix.startswith(f"the TLSRoute nats-mqtt-mtls is {version}, which requires at least one hostname")


def test_a_tls_route_v1alpha2_without_mtls_hostnames_routes_every_name() -> None:
    bus, _ = stackfile.parse(_cpc(mtls=_OWN_CERTIFICATE_WITHOUT_HOSTNAMES))
    assert bus.gateway.tls_route_api_version == "gateway.networking.k8s.io/v1alpha2"


def test_a_tls_route_v1_without_mtls_hostnames_is_fine_while_its_route_is_off() -> None:
    gateway = {"tlsRouteApiVersion": _V1, "routes": {"mqttMtls": {"enabled": False}}}
    bus, _ = stackfile.parse(_cpc(mtls=_OWN_CERTIFICATE_WITHOUT_HOSTNAMES, gateway=gateway))
    assert not bus.gateway.routes.mqtt_mtls.enabled


@pytest.mark.parametrize("key", ["tcpRouteApiVersion", "tlsRouteApiVersion"])
def test_a_route_api_version_the_gateway_api_does_not_serve_is_refused(key: str) -> None:
    problem = _only_error(_cpc(gateway={key: "gateway.networking.k8s.io/v1beta1"}))
    assert problem.key == f"{KEY}.gateway.{key}"
    assert "gateway.networking.k8s.io/v1alpha2" in problem.fix and _V1 in problem.fix


@pytest.mark.parametrize("port", [0, 65536])
def test_a_route_port_outside_1_to_65535_is_refused(port: int) -> None:
    problem = _only_error(_cpc(gateway={"routes": {"mqtt": {"port": port}}}))
    assert problem.key.startswith(f"{KEY}.gateway.routes.mqtt.port")


def test_an_ip_literal_mtls_client_url_is_refused() -> None:
    mtls = {
        "enabled": True,
        "hostnames": ["mqtt-mtls.cpc-a.dsx.example.com"],
        "certificateIssuer": {"name": "dsx-ca"},
        "clientUrls": ["ssl://mqtt-mtls.cpc-a.dsx.example.com:8883", "ssl://172.18.201.1:8883"],
    }
    problem = _only_error(_cpc(mtls=mtls))
    assert problem.key == f"{KEY}.mtls.clientUrls[1]"
    assert problem.value == "ssl://172.18.201.1:8883"
    assert "an IP address sends no SNI" in problem.fix
    assert "Give clients a DNS name from mtls.hostnames" in problem.fix


# ---- keys -----------------------------------------------------------------------------------------


def test_a_misspelt_key_is_an_error() -> None:
    problem = _only_error(_cpc(clusterID="a"))
    assert problem.key == f"{KEY}.clusterID"
    assert problem.value == "a"
    assert "not a dsx-bus setting; check the spelling" in problem.fix


def test_a_misspelt_nested_key_is_an_error() -> None:
    raw = _cpc()
    raw["mtls"]["clientUrl"] = raw["mtls"].pop("clientUrls")
    problem = _only_error(raw)
    assert problem.key == f"{KEY}.mtls.clientUrl"
    assert "check the spelling" in problem.fix


def test_a_leaf_endpoint_on_a_cpc_is_refused() -> None:
    problem = _only_error(_cpc(leafEndpoint="nats://leaf.cpc-a.example.com:7422"))
    assert problem.key == f"{KEY}.leafEndpoint"
    assert problem.value == "nats://leaf.cpc-a.example.com:7422"
    assert problem.fix == "only the CSC has this setting; remove it here"


def test_a_cluster_id_on_the_csc_is_refused() -> None:
    problem = _only_error(_csc(clusterId="a"))
    assert problem.key == f"{KEY}.clusterId"
    assert problem.value == "a"
    assert problem.fix == "only a CPC has this setting; remove it here"


def test_a_cpc_without_a_way_to_find_the_csc_is_refused() -> None:
    raw = _cpc()
    del raw["cscStack"]
    raw["auth"]["permissions"].pop("oauth2")
    problem = _only_error(raw)
    assert problem.key == f"{KEY}.cscStack"
    assert problem.value is None
    assert "set cscStack" in problem.fix


# ---- reporting ------------------------------------------------------------------------------------


def test_three_domain_mistakes_are_reported_at_once() -> None:
    raw = _cpc(leafEndpoint="nats://x.example.com:7422", mqttStreams={"replicas": 5})
    raw["auth"]["permissions"]["noauth"]["account"] = "Nope"
    errors = _errors(raw)
    assert sorted(p.key for p in errors) == [
        f"{KEY}.auth.permissions.noauth.account",
        f"{KEY}.leafEndpoint",
        f"{KEY}.mqttStreams.replicas",
    ]


def test_three_schema_mistakes_are_reported_at_once() -> None:
    errors = _errors(_cpc(clusterId=7, nameSpace="dsx", mqttStreams={"replicas": 9}))
    assert sorted(p.key for p in errors) == [f"{KEY}.clusterId", f"{KEY}.mqttStreams.replicas", f"{KEY}.nameSpace"]


def test_the_error_lines_end_with_a_count_and_carry_no_traceback() -> None:
    raw = _cpc(leafEndpoint="nats://x.example.com:7422", mqttStreams={"replicas": 5})
    with pytest.raises(ConfigError) as caught:
        stackfile.parse(raw, source="Pulumi.cpc-a.yaml")
    lines = caught.value.lines()
    assert len(lines) == 3
    assert lines[-1] == "2 problem(s) in Pulumi.cpc-a.yaml; nothing was changed"
    assert lines[0].startswith(f"Pulumi.cpc-a.yaml: {KEY}.")
    assert not any("Traceback" in line for line in lines)


def test_warnings_are_not_counted_as_problems() -> None:
    # noauth into the CSC account is a warning; one real mistake beside it makes one problem.
    raw = _csc(clusterId="a")
    raw["auth"]["permissions"]["noauth"] = {"account": "CSC", "permissions": TEST_ONLY}
    with pytest.raises(ConfigError) as caught:
        stackfile.parse(raw)
    assert [p.warning for p in caught.value.problems].count(True) == 1
    assert caught.value.lines()[-1].startswith("1 problem(s)")


def test_a_model_built_with_snake_case_names_matches_the_parsed_one() -> None:
    bus, _ = stackfile.parse(_cpc())
    again = EventBus.model_validate(bus.model_dump(by_alias=False))
    assert again == bus


def test_schema_and_domain_mistakes_are_reported_together() -> None:
    errors = _errors(_cpc(clusterId=7, leafEndpoint="nats://x.example.com:7422", mqttStreams={"replicas": 5}))
    assert sorted(p.key for p in errors) == [
        f"{KEY}.clusterId",
        f"{KEY}.leafEndpoint",
        f"{KEY}.mqttStreams.replicas",
    ]


def test_a_key_with_a_schema_error_is_not_reported_again_as_missing() -> None:
    errors = _errors(_cpc(clusterId=7))
    assert [p.key for p in errors] == [f"{KEY}.clusterId"]


def _csc_with_cpcs(count: int, **overrides: object) -> dict[str, Any]:
    return _csc(cpcs={f"c{i}": f"organization/dsx-bus/cpc-c{i}" for i in range(count)}, **overrides)


def test_mqtt_streams_that_do_not_fit_the_memory_store_are_an_error_naming_every_reservation() -> None:
    # 5 x 64 MiB + 2 x 200 x 8 MiB = 3520 MiB > 2 GiB: JetStream would refuse the streams past the limit.
    problem = _only_error(_csc_with_cpcs(200))
    assert problem.key == "dsx-bus:eventBus.nats.maxMemoryStore" and problem.value == "2Gi"
    assert "reserve 3690987520 (5 x mqttStreams.maxBytes (67108864) + 2 x 200 CPCs" in problem.fix
    assert "raise nats.maxMemoryStore, or lower mqttStreams.maxBytes / perCpcMaxBytes" in problem.fix


def test_smaller_per_cpc_streams_fit_the_same_fleet_in_the_same_memory() -> None:
    streams = {"perCpcMaxBytes": 2 * 1024 * 1024}
    stackfile.parse(_csc_with_cpcs(200, mqttStreams=streams), source="Pulumi.test.yaml")
