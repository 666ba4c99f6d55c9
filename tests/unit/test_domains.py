"""Every stack setting has its real domain: what Kubernetes, nats-server or NACK would refuse later is refused here."""

from __future__ import annotations

from typing import Any

import pytest

from dsxbus import domains, stackfile
from dsxbus.durations import duration_ns
from tests.unit.stackconfigs import cpc, csc, errors_of, only_error, with_permissions


def _keys(raw: dict[str, Any]) -> list[str]:
    return [p.key for p in errors_of(raw)]


def _valid(raw: dict[str, Any]) -> bool:
    stackfile.parse(raw)  # raises ConfigError on any error
    return True


@pytest.mark.parametrize("cluster_id", ["a\n", "a ", "A", "a-b", ""])
def test_a_cluster_id_must_be_lower_case_letters_and_digits_to_its_last_character(cluster_id: str) -> None:
    problem = only_error(cpc(clusterId=cluster_id))
    assert problem.key == "dsx-bus:eventBus.clusterId" and problem.value == cluster_id


def test_a_cpc_id_with_a_trailing_newline_is_refused() -> None:
    assert "dsx-bus:eventBus.cpcs['a\\n']" in _keys(csc(cpcs={"a\n": "organization/dsx-bus/cpc-a"}))


def test_an_extra_account_name_with_a_trailing_newline_is_refused() -> None:
    raw = cpc(extraAccounts={"LaunchLayer": {"enabled": True}, "Tools\n": {"enabled": True}})
    assert "dsx-bus:eventBus.extraAccounts['Tools\\n']" in _keys(raw)


def test_an_mtls_hostname_with_a_trailing_newline_is_refused() -> None:
    raw = cpc()
    raw["mtls"]["hostnames"] = ["mqtt-mtls.cpc-a.dsx.example.com\n"]
    assert "dsx-bus:eventBus.mtls.hostnames[0]" in _keys(raw)


@pytest.mark.parametrize("size", ["lots", "2Gi\n", "0", "99999999999999999999T", True])
def test_max_memory_store_must_be_a_size(size: object) -> None:
    problem = only_error(cpc(nats={"maxMemoryStore": size}))
    assert problem.key == "dsx-bus:eventBus.nats.maxMemoryStore"


@pytest.mark.parametrize("size", ["2Gi", "512Mi", "1G", 1073741824])
def test_max_memory_store_takes_the_chart_units_and_plain_bytes(size: object) -> None:
    assert _valid(cpc(nats={"maxMemoryStore": size}))


@pytest.mark.parametrize("age", ["banana", "3h\n", "1ms", "99999999999h", "3"])
def test_stream_max_age_must_be_a_go_duration_jetstream_accepts(age: str) -> None:
    assert only_error(cpc(mqttStreams={"maxAge": age})).key == "dsx-bus:eventBus.mqttStreams.maxAge"


@pytest.mark.parametrize("age", ["3h", "1h30m", "1.5h", ".5s", "100ms", "0s", "0"])
def test_stream_max_age_takes_go_durations_of_0_or_at_least_100ms(age: str) -> None:
    assert _valid(cpc(mqttStreams={"maxAge": age}))


@pytest.mark.parametrize(("text", "ns"), [("1.5h", 5_400 * 10**9), ("2µs", 2_000), ("1.0000000005s", 10**9), ("0", 0)])
def test_durations_read_as_go_reads_them(text: str, ns: int) -> None:
    assert duration_ns(text) == ns  # fractions of a nanosecond are dropped, as time.ParseDuration does


def test_a_duration_longer_than_go_can_hold_is_refused() -> None:
    with pytest.raises(ValueError, match="longer than a Go duration"):
        duration_ns("2562048h")  # 292 years and a bit: past int64 nanoseconds


@pytest.mark.parametrize("namespace", ["Not A DNS Label", "dsx\n", "-dsx", "a" * 64, "dsx.example"])
def test_the_namespace_must_be_a_dns_label(namespace: str) -> None:
    assert only_error(cpc(namespace=namespace)).key == "dsx-bus:eventBus.namespace"


def test_a_release_name_longer_than_helm_allows_is_refused() -> None:
    assert only_error(cpc(releaseName="r" * 54)).key == "dsx-bus:eventBus.releaseName"


@pytest.mark.parametrize("port", [70000, 0, True, "1883"])
def test_a_route_port_is_an_integer_from_1_to_65535(port: object) -> None:
    problem = only_error(cpc(gateway={"routes": {"mqtt": {"port": port}}}))
    assert problem.key == "dsx-bus:eventBus.gateway.routes.mqtt.port"


@pytest.mark.parametrize(
    "url",
    [
        "nats://[x:7422",
        "nats://leaf.csc.example.com:0",
        "nats://leaf.csc.example.com:70000",
        "nats://leaf.csc.example.com",
        "http://leaf.csc.example.com:7422",
        "nats://leaf.csc.example.com:7422\n",
        "nats://leaf\n.csc.example.com:7422",
        "nats://:7422",
    ],
)
def test_a_leaf_endpoint_needs_a_leaf_scheme_a_host_and_a_port_from_1_to_65535(url: str) -> None:
    problem = only_error(csc(leafEndpoint=url))
    assert problem.key == "dsx-bus:eventBus.leafEndpoint" and problem.value == url


@pytest.mark.parametrize("url", ["nats://leaf.csc.example.com:7422", "tls://10.0.0.1:7422", "wss://[::1]:443"])
def test_leaf_urls_nats_server_dials_are_accepted(url: str) -> None:
    assert domains.leaf_url_problem(url) is None


def test_a_csc_endpoint_is_checked_like_a_leaf_endpoint() -> None:
    assert only_error(cpc(cscEndpoint="nats://[x:7422")).key == "dsx-bus:eventBus.cscEndpoint"


def test_a_client_url_with_port_70000_is_refused() -> None:
    raw = cpc()
    raw["mtls"]["clientUrls"] = ["ssl://mqtt-mtls.cpc-a.dsx.example.com:70000"]
    assert only_error(raw).key == "dsx-bus:eventBus.mtls.clientUrls[0]"


def test_noauth_may_not_land_in_the_system_account() -> None:
    grant = {"pub": {"allow": ["sensor.>"]}, "sub": {"allow": ["x"]}}
    raw = with_permissions(cpc(), "noauth", {"account": "SYS", "permissions": grant})
    problem = only_error(raw)
    assert problem.key == "dsx-bus:eventBus.auth.permissions.noauth.account" and problem.value == "SYS"


def test_an_operator_entry_may_still_name_the_system_account() -> None:
    entry = {"azp": "ops", "account": "SYS", "permissions": {"pub": {"allow": ["test.>"]}}}
    assert _valid(with_permissions(csc(), "oauth2", {"ops": entry}))


@pytest.mark.parametrize("reference", ["organization/dsx-bus/cpc-a\n", "a/b/c/d", "cpc a"])
def test_a_stack_reference_is_up_to_three_names_separated_by_slashes(reference: str) -> None:
    assert "dsx-bus:eventBus.cscStack" in _keys(cpc(cscStack=reference))


@pytest.mark.parametrize("image", ["registry.example.com/auth-callout:v1\n", "Registry/Image", "image:tag with space"])
def test_an_image_is_an_image_reference(image: str) -> None:
    assert only_error(cpc(authCallout={"image": image})).key == "dsx-bus:eventBus.authCallout.image"


def test_a_jwks_url_is_an_http_url_with_a_host() -> None:
    raw = csc()
    raw["auth"]["jwks"]["url"] = "idp.example.com/jwks.json"
    assert "dsx-bus:eventBus.auth.jwks.url" in _keys(raw)


@pytest.mark.parametrize("replicas", [True, "3", 3.0])
def test_replicas_are_yaml_integers(replicas: object) -> None:
    assert only_error(cpc(nats={"replicas": replicas})).key == "dsx-bus:eventBus.nats.replicas"


def test_a_stream_byte_count_past_int64_is_refused() -> None:
    assert only_error(cpc(mqttStreams={"maxBytes": 2**63})).key == "dsx-bus:eventBus.mqttStreams.maxBytes"
