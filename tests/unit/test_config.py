"""Bad stack configs the schema refuses (dsxbus.config), and how a config's problems are reported, all at once.

Each test changes one thing on a valid CPC (`cpc`) or CSC (`csc`) shaped like the example stack files. The domain
rules, which run once the schema holds, are tested beside their modules: tests/unit/test_checks_*.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dsxbus import stackfile
from dsxbus.config import EventBus
from dsxbus.errors import ConfigError
from tests.unit.stackconfigs import KEY, ROOT, TEST_ONLY, cpc, csc, errors_of, only_error

# ---- the bases and the examples are valid ---------------------------------------------------------


def test_the_cpc_base_is_valid() -> None:
    bus, warnings = stackfile.parse(cpc())
    assert bus.cluster_id == "a"
    assert warnings == ()


def test_the_csc_base_is_valid() -> None:
    bus, warnings = stackfile.parse(csc())
    assert bus.cpc_ids == ("a", "b")
    assert warnings == ()


@pytest.mark.parametrize("stack", ["csc", "cpc-a", "cpc-b"])
def test_the_example_stack_files_load_without_errors(stack: str) -> None:
    loaded = stackfile.load_stack(ROOT, stack)
    assert loaded.name == stack
    assert all(p.warning for p in loaded.warnings)


# ---- IDs ------------------------------------------------------------------------------------------


def test_an_unquoted_numeric_cluster_id_asks_for_quotes() -> None:
    problem = only_error(cpc(clusterId=1))
    assert problem.key == f"{KEY}.clusterId"
    assert problem.value == 1
    assert 'quote it: clusterId: "1"' in problem.fix


def test_a_float_cluster_id_asks_for_quotes_without_a_decimal_point() -> None:
    problem = only_error(cpc(clusterId=2.0))
    assert problem.key == f"{KEY}.clusterId"
    assert 'clusterId: "2"' in problem.fix


def test_an_unquoted_numeric_cpc_id_asks_for_quotes() -> None:
    # The rule runs on the whole mapping, so the key is `cpcs` and the value the mapping as written.
    problem = only_error(csc(cpcs={1: "organization/dsx-bus/cpc-1", "b": "organization/dsx-bus/cpc-b"}))
    assert problem.key == f"{KEY}.cpcs"
    assert problem.value == {1: "organization/dsx-bus/cpc-1", "b": "organization/dsx-bus/cpc-b"}
    assert 'quote it: cpcs: {"1": ...}' in problem.fix


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


# ---- jwks -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("jwks", "missing"),
    [
        ({"url": "https://idp.example.com/jwks.json", "issuer": "https://idp.example.com"}, "audience"),
        ({"url": "https://idp.example.com/jwks.json"}, "issuer, audience"),
        ({"issuer": "https://idp.example.com", "audience": "dsx"}, "url"),
    ],
)
def test_a_partial_jwks_block_says_the_auth_callout_exits(jwks: dict[str, str], missing: str) -> None:
    raw = csc()
    raw["auth"]["jwks"] = jwks
    problem = only_error(raw)
    assert problem.key == f"{KEY}.auth.jwks"
    assert problem.value == jwks
    assert f"but not {missing}" in problem.fix
    assert "auth-callout exits at start" in problem.fix
    assert "Set all three" in problem.fix


# ---- gateway routes -------------------------------------------------------------------------------


def test_hostnames_on_the_mtls_gateway_route_are_refused_in_favour_of_mtls_hostnames() -> None:
    # The rule runs on the routes mapping, so the key is `gateway.routes`; the message names the sub-key.
    routes = {"mqttMtls": {"hostnames": ["mqtt-mtls.cpc-a.dsx.example.com"]}}
    problem = only_error(cpc(gateway={"routes": routes}))
    assert problem.key == f"{KEY}.gateway.routes"
    assert problem.value == routes
    assert problem.fix.startswith("mqttMtls.hostnames: set mtls.hostnames instead")


_V1 = "gateway.networking.k8s.io/v1"


@pytest.mark.parametrize("key", ["tcpRouteApiVersion", "tlsRouteApiVersion"])
def test_a_route_api_version_the_gateway_api_does_not_serve_is_refused(key: str) -> None:
    problem = only_error(cpc(gateway={key: "gateway.networking.k8s.io/v1beta1"}))
    assert problem.key == f"{KEY}.gateway.{key}"
    assert "gateway.networking.k8s.io/v1alpha2" in problem.fix and _V1 in problem.fix


@pytest.mark.parametrize("port", [0, 65536])
def test_a_route_port_outside_1_to_65535_is_refused(port: int) -> None:
    problem = only_error(cpc(gateway={"routes": {"mqtt": {"port": port}}}))
    assert problem.key.startswith(f"{KEY}.gateway.routes.mqtt.port")


# ---- keys -----------------------------------------------------------------------------------------


def test_a_misspelt_key_is_an_error() -> None:
    problem = only_error(cpc(clusterID="a"))
    assert problem.key == f"{KEY}.clusterID"
    assert problem.value == "a"
    assert "not a dsx-bus setting; check the spelling" in problem.fix


def test_a_misspelt_nested_key_is_an_error() -> None:
    raw = cpc()
    raw["mtls"]["clientUrl"] = raw["mtls"].pop("clientUrls")
    problem = only_error(raw)
    assert problem.key == f"{KEY}.mtls.clientUrl"
    assert "check the spelling" in problem.fix


# ---- reporting ------------------------------------------------------------------------------------


def test_three_domain_mistakes_are_reported_at_once() -> None:
    raw = cpc(leafEndpoint="nats://x.example.com:7422", mqttStreams={"replicas": 5})
    raw["auth"]["permissions"]["noauth"]["account"] = "Nope"
    errors = errors_of(raw)
    assert sorted(p.key for p in errors) == [
        f"{KEY}.auth.permissions.noauth.account",
        f"{KEY}.leafEndpoint",
        f"{KEY}.mqttStreams.replicas",
    ]


def test_three_schema_mistakes_are_reported_at_once() -> None:
    errors = errors_of(cpc(clusterId=7, nameSpace="dsx", mqttStreams={"replicas": 9}))
    assert sorted(p.key for p in errors) == [f"{KEY}.clusterId", f"{KEY}.mqttStreams.replicas", f"{KEY}.nameSpace"]


def test_the_error_lines_end_with_a_count_and_carry_no_traceback() -> None:
    raw = cpc(leafEndpoint="nats://x.example.com:7422", mqttStreams={"replicas": 5})
    with pytest.raises(ConfigError) as caught:
        stackfile.parse(raw, source="Pulumi.cpc-a.yaml")
    lines = caught.value.lines()
    assert len(lines) == 3
    assert lines[-1] == "2 problem(s) in Pulumi.cpc-a.yaml; nothing was changed"
    assert lines[0].startswith(f"Pulumi.cpc-a.yaml: {KEY}.")
    assert not any("Traceback" in line for line in lines)


def test_warnings_are_not_counted_as_problems() -> None:
    # noauth into the CSC account is a warning; one real mistake beside it makes one problem.
    raw = csc(clusterId="a")
    raw["auth"]["permissions"]["noauth"] = {"account": "CSC", "permissions": TEST_ONLY}
    with pytest.raises(ConfigError) as caught:
        stackfile.parse(raw)
    assert [p.warning for p in caught.value.problems].count(True) == 1
    assert caught.value.lines()[-1].startswith("1 problem(s)")


def test_a_model_built_with_snake_case_names_matches_the_parsed_one() -> None:
    bus, _ = stackfile.parse(cpc())
    again = EventBus.model_validate(bus.model_dump(by_alias=False))
    assert again == bus


def test_schema_and_domain_mistakes_are_reported_together() -> None:
    errors = errors_of(cpc(clusterId=7, leafEndpoint="nats://x.example.com:7422", mqttStreams={"replicas": 5}))
    assert sorted(p.key for p in errors) == [
        f"{KEY}.clusterId",
        f"{KEY}.leafEndpoint",
        f"{KEY}.mqttStreams.replicas",
    ]


def test_a_key_with_a_schema_error_is_not_reported_again_as_missing() -> None:
    errors = errors_of(cpc(clusterId=7))
    assert [p.key for p in errors] == [f"{KEY}.clusterId"]
