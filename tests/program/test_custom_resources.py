"""Every custom resource the program declares is one the API server accepts, per the upstream CRD of its apiVersion.

An unknown field is refused here: the API server would prune it silently, a setting that never takes effect. The
CRDs are in tests/fixtures/crds/ and tests/fixtures/sveltos/; tests/program/crd_schema.py says what is checked.
CEL rules are not: the ones the program depends on have their own tests below.
"""

from __future__ import annotations

import copy
import ipaddress
import itertools
import re
from collections.abc import Iterator
from typing import Any, get_args

import pytest

from dsxbus.config import TcpRouteApiVersion, TlsRouteApiVersion
from tests.program import crd_schema, harness
from tests.program.crd_schema import Crd
from tests.program.harness import Captured, Run

Crds = dict[tuple[str, str], Crd]

# API groups the API server itself serves; every other group the program writes must be a CRD's.
BUILT_IN_GROUPS = frozenset(
    {
        "core",
        "apps",
        "batch",
        "policy",
        "autoscaling",
        "admissionregistration.k8s.io",
        "apiextensions.k8s.io",
        "certificates.k8s.io",
        "coordination.k8s.io",
        "discovery.k8s.io",
        "networking.k8s.io",
        "node.k8s.io",
        "rbac.authorization.k8s.io",
        "scheduling.k8s.io",
        "storage.k8s.io",
    }
)
# RFC 1123 subdomain: what the API server requires of a custom resource's metadata.name.
K8S_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
TLS_ROUTE_VERSIONS: tuple[str, ...] = get_args(TlsRouteApiVersion)
TCP_ROUTE_VERSIONS: tuple[str, ...] = get_args(TcpRouteApiVersion)
# Each apiVersion the config accepts at least once, TCPRoute's paired round-robin with TLSRoute's.
ROUTE_VERSIONS = tuple(zip(itertools.cycle(TCP_ROUTE_VERSIONS), TLS_ROUTE_VERSIONS, strict=False))


@pytest.fixture(scope="session")
def crds() -> Crds:
    return crd_schema.catalog()


def _group_of(captured: Captured) -> str:
    api_version = captured.type.removeprefix("kubernetes:").rsplit(":", 1)[0]
    return api_version.rpartition("/")[0] or "core"


def custom_resources(run: Run) -> list[dict[str, Any]]:
    """The manifest of every custom resource the run declares, as the API server would receive it."""
    assert run.error is None, run.error
    return [
        harness.plain(harness.unwrap(c.inputs))
        for c in run.registered()
        if c.type.startswith("kubernetes:")
        and not c.type.startswith("kubernetes:helm.sh")
        and c.custom
        and _group_of(c) not in BUILT_IN_GROUPS
    ]


def _crd_of(crds: Crds, obj: dict[str, Any]) -> Crd:
    return crds[(str(obj["apiVersion"]).rpartition("/")[0], obj["kind"])]


def _refusals(crds: Crds, run: Run) -> dict[str, list[str]]:
    """`Kind/name (apiVersion)` -> why its CRD refuses it, for every refused custom resource of the run."""
    found = {}
    for obj in custom_resources(run):
        problems = crd_schema.problems(_crd_of(crds, obj), obj)
        if problems:
            found[f"{obj['kind']}/{obj['metadata']['name']} ({obj['apiVersion']})"] = problems
    return found


def _everything_on(tcp_route: str, tls_route: str) -> Run:
    """The example CSC with every option that declares a custom resource, and the given route apiVersions."""
    bus = harness.stack_config("csc")["dsx-bus:eventBus"]
    bus["gateway"] = {"tcpRouteApiVersion": tcp_route, "tlsRouteApiVersion": tls_route}
    bus["monitoring"] = {"serviceMonitors": True, "alerts": {"enabled": True}, "grafanaDashboard": {"enabled": True}}
    bus["extraAccounts"]["Telemetry"] = {"enabled": True, "jetstream": True}
    # A typical JetStream name: upper case and '_', neither allowed in a Kubernetes object name.
    bus["sveltos"]["jetstream"] = {"streams": [{"name": "USER_OPS", "subjects": ["user-operation.>"]}]}
    bus["keyGenerations"] = {"mtlsServer": 2}  # the mTLS server Certificate's rotation fields (subject, privateKey)
    return harness.run("csc", event_bus=bus)


@pytest.fixture(scope="module", params=ROUTE_VERSIONS, ids=lambda pair: "-".join(v.rsplit("/")[-1] for v in pair))
def everything_on(request: pytest.FixtureRequest) -> Run:
    tcp_route, tls_route = request.param
    return _everything_on(tcp_route, tls_route)


@pytest.fixture(scope="module")
def example_runs(csc_first: Run, cpc_a: Run, cpc_b: Run, csc: Run) -> tuple[Run, ...]:
    return csc_first, cpc_a, cpc_b, csc


def _all_runs(example_runs: tuple[Run, ...], everything_on: Run) -> Iterator[Run]:
    yield from example_runs
    yield everything_on


def _routes(run: Run, crds: Crds) -> list[dict[str, Any]]:
    """The Gateway API routes, defaulted as the API server stores them (backendRef kind Service, group "")."""
    routes = []
    for obj in custom_resources(run):
        if obj["kind"] in ("TCPRoute", "TLSRoute"):
            schema = _crd_of(crds, obj).versions[obj["apiVersion"].rpartition("/")[2]].schema
            routes.append(crd_schema.defaulted(schema, obj))
    return routes


def _tls_route(run: Run) -> dict[str, Any]:
    (route,) = [obj for obj in custom_resources(run) if obj["kind"] == "TLSRoute"]
    return route


# ---- the program's custom resources ----------------------------------------------------------------------------


def test_every_custom_resource_kind_the_program_declares_has_its_upstream_crd(
    crds: Crds, example_runs: tuple[Run, ...], everything_on: Run
) -> None:
    declared = {
        (obj["apiVersion"].rpartition("/")[0], obj["kind"])
        for run in _all_runs(example_runs, everything_on)
        for obj in custom_resources(run)
    }
    assert declared - set(crds) == set()


def test_with_every_option_on_the_program_declares_every_kind_there_is_a_crd_for(
    crds: Crds, everything_on: Run
) -> None:
    declared = {(obj["apiVersion"].rpartition("/")[0], obj["kind"]) for obj in custom_resources(everything_on)}
    assert declared == set(crds)


def test_every_custom_resource_of_the_example_stacks_is_valid_for_its_crd(
    crds: Crds, example_runs: tuple[Run, ...]
) -> None:
    for run in example_runs:
        assert _refusals(crds, run) == {}, run.stack


def test_every_custom_resource_with_every_option_on_is_valid_for_its_crd(crds: Crds, everything_on: Run) -> None:
    assert _refusals(crds, everything_on) == {}


def test_every_route_api_version_the_config_accepts_is_served_by_the_gateway_api_crds(
    crds: Crds,
) -> None:
    assert set(TCP_ROUTE_VERSIONS) <= set(crds[("gateway.networking.k8s.io", "TCPRoute")].served)
    assert set(TLS_ROUTE_VERSIONS) <= set(crds[("gateway.networking.k8s.io", "TLSRoute")].served)


def test_the_routes_carry_the_configured_api_versions(everything_on: Run) -> None:
    versions = {(obj["kind"], obj["apiVersion"]) for obj in custom_resources(everything_on)}
    tcp_route, tls_route = (
        everything_on.config["dsx-bus:eventBus"]["gateway"][k] for k in ("tcpRouteApiVersion", "tlsRouteApiVersion")
    )
    assert ("TCPRoute", tcp_route) in versions and ("TLSRoute", tls_route) in versions


def test_every_custom_resource_name_is_a_kubernetes_object_name(
    example_runs: tuple[Run, ...], everything_on: Run
) -> None:
    names = [obj["metadata"]["name"] for run in _all_runs(example_runs, everything_on) for obj in custom_resources(run)]
    assert [name for name in names if len(name) > 253 or not K8S_NAME.match(name)] == []


def test_namespaced_custom_resources_name_the_bus_namespace_and_cluster_scoped_ones_none(
    crds: Crds, example_runs: tuple[Run, ...], everything_on: Run
) -> None:
    # Without a namespace the provider would put a namespaced object in `default`; the API server drops one given
    # to a cluster-scoped object. Both silently.
    for run in _all_runs(example_runs, everything_on):
        for obj in custom_resources(run):
            expected = "dsx" if _crd_of(crds, obj).namespaced else None
            assert obj["metadata"].get("namespace") == expected, obj["metadata"]


# ---- CEL rules the program depends on (the schema check does not run them) ---------------------------------


def test_every_route_backend_that_is_a_service_names_its_port(
    crds: Crds, example_runs: tuple[Run, ...], everything_on: Run
) -> None:
    # CEL on backendRefs: "Must have port for Service reference"; group "" and kind Service are the defaults.
    backends = [
        ref
        for run in _all_runs(example_runs, everything_on)
        for route in _routes(run, crds)
        for rule in route["spec"]["rules"]
        for ref in rule["backendRefs"]
    ]
    assert backends and all((ref["group"], ref["kind"]) == ("", "Service") for ref in backends)
    assert [ref for ref in backends if not ref.get("port")] == []


def test_no_tls_route_hostname_is_an_ip_address(example_runs: tuple[Run, ...], everything_on: Run) -> None:
    # CEL on spec.hostnames: "Hostnames cannot contain an IP" (the pattern alone lets 10.0.0.7 through).
    hostnames = [
        host for run in _all_runs(example_runs, everything_on) for host in _tls_route(run)["spec"].get("hostnames", [])
    ]
    assert hostnames
    for host in hostnames:
        with pytest.raises(ValueError):
            ipaddress.ip_address(host)


def test_every_event_trigger_policy_ref_names_a_kind_and_no_remote_url(
    example_runs: tuple[Run, ...], everything_on: Run
) -> None:
    # CEL on policyRefs items: "either remoteURL or kind must be set, but not both".
    refs = [
        ref
        for run in _all_runs(example_runs, everything_on)
        for obj in custom_resources(run)
        if obj["kind"] == "EventTrigger"
        for ref in obj["spec"]["policyRefs"]
    ]
    assert refs and all("kind" in ref and "remoteURL" not in ref for ref in refs)


def test_a_change_of_one_for_event_replaces_the_event_trigger(everything_on: Run) -> None:
    # CEL on spec.oneForEvent: "Value is immutable" (self == oldSelf), so an update changing it is refused.
    (trigger,) = [c for c in everything_on.registered() if c.type.endswith(":EventTrigger")]
    assert trigger.replace_on_changes == ("spec.oneForEvent",)
    assert trigger.delete_before_replace  # the replacement has the same name


# ---- the validator refuses what the API server refuses ----------------------------------------------------------


def test_the_validator_refuses_an_unknown_spec_field(crds: Crds, csc: Run) -> None:
    route = copy.deepcopy(_tls_route(csc))
    route["spec"]["foo"] = "bar"
    assert crd_schema.problems(_crd_of(crds, route), route) == [
        "spec: Additional properties are not allowed ('foo' was unexpected)"
    ]


def test_the_validator_refuses_a_misspelt_field_inside_a_list_item(crds: Crds, csc: Run) -> None:
    route = copy.deepcopy(_tls_route(csc))
    route["spec"]["rules"][0]["backendRefs"][0]["weigth"] = 1
    assert crd_schema.problems(_crd_of(crds, route), route) == [
        "spec.rules.0.backendRefs.0: Additional properties are not allowed ('weigth' was unexpected)"
    ]


def test_the_validator_refuses_an_api_version_the_crd_does_not_serve(crds: Crds, csc: Run) -> None:
    (stream, *_) = [obj for obj in custom_resources(csc) if obj["kind"] == "Stream"]
    stream["apiVersion"] = "jetstream.nats.io/v1beta1"  # in the CRD, with its schema, but served: false
    assert crd_schema.problems(_crd_of(crds, stream), stream) == [
        "apiVersion: streams.jetstream.nats.io does not serve v1beta1 (served: jetstream.nats.io/v1beta2)"
    ]


def test_the_validator_refuses_an_api_version_the_crd_does_not_have(crds: Crds, csc: Run) -> None:
    route = copy.deepcopy(_tls_route(csc))
    route["apiVersion"] = "gateway.networking.k8s.io/v1beta1"
    (problem,) = crd_schema.problems(_crd_of(crds, route), route)
    assert problem.startswith("apiVersion: 'gateway.networking.k8s.io/v1beta1' is no version of tlsroutes.")


def test_the_validator_refuses_a_kind_other_than_the_one_the_crd_describes(crds: Crds, csc: Run) -> None:
    route = copy.deepcopy(_tls_route(csc))
    route["kind"] = "TCPRoute"
    assert crd_schema.problems(_crd_of(crds, _tls_route(csc)), route) == ["kind: 'TLSRoute' was expected"]


def test_the_validator_holds_a_tls_route_v1_to_hostnames_and_one_rule(crds: Crds, csc: Run) -> None:
    route = copy.deepcopy(_tls_route(csc))
    route["apiVersion"] = "gateway.networking.k8s.io/v1"
    del route["spec"]["hostnames"]
    route["spec"]["rules"] *= 2
    hostnames, rules = crd_schema.problems(_crd_of(crds, route), route)
    assert hostnames == "spec: 'hostnames' is a required property"
    assert rules.startswith("spec.rules: [") and rules.endswith("] is too long")


def test_the_validator_accepts_a_tls_route_v1alpha2_without_hostnames_and_with_two_rules(crds: Crds, csc: Run) -> None:
    route = copy.deepcopy(_tls_route(csc))
    route["apiVersion"] = "gateway.networking.k8s.io/v1alpha2"
    del route["spec"]["hostnames"]
    route["spec"]["rules"] *= 2
    assert crd_schema.problems(_crd_of(crds, route), route) == []


# A CRD of one version using each rule of the conversion, for the tests below.
TOY_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "toys.example.com"},
    "spec": {
        "group": "example.com",
        "names": {"kind": "Toy", "plural": "toys"},
        "scope": "Namespaced",
        "versions": [
            {
                "name": "v1",
                "served": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "apiVersion": {"type": "string"},
                            "kind": {"type": "string"},
                            "metadata": {"type": "object"},
                            "spec": {
                                "type": "object",
                                "properties": {
                                    "port": {"x-kubernetes-int-or-string": True},
                                    "note": {"type": "string", "nullable": True},
                                    "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                                    "template": {"type": "object", "x-kubernetes-embedded-resource": True},
                                    "address": {
                                        "type": "object",
                                        "properties": {
                                            "type": {"type": "string", "default": "Hostname"},
                                            "value": {"type": "string"},
                                        },
                                        "oneOf": [
                                            {"properties": {"type": {"enum": ["Hostname"]}}, "required": ["type"]},
                                            {"properties": {"type": {"enum": ["IPAddress"]}}, "required": ["type"]},
                                        ],
                                    },
                                },
                            },
                        },
                    }
                },
            }
        ],
    },
}


def _toy_problems(spec: dict[str, Any]) -> list[str]:
    toy = {"apiVersion": "example.com/v1", "kind": "Toy", "metadata": {"name": "t", "labels": {"a": "b"}}, "spec": spec}
    return crd_schema.problems(crd_schema.crd_from(TOY_CRD), toy)


def test_the_validator_fills_in_defaults_before_a_one_of_over_them() -> None:
    assert _toy_problems({"address": {"value": "nats.example.com"}}) == []
    assert _toy_problems({"address": {"type": "FQDN"}}) != []


def test_the_validator_takes_an_int_or_string_field_as_either_and_nothing_else() -> None:
    assert _toy_problems({"port": 4222}) == _toy_problems({"port": "nats"}) == []
    assert _toy_problems({"port": 4222.5}) == ["spec.port: 4222.5 is not of type 'integer', 'string'"]


def test_the_validator_allows_null_only_where_the_crd_says_nullable() -> None:
    assert _toy_problems({"note": None}) == []
    assert _toy_problems({"address": {"value": None}}) == []  # dropped by the API server, as here
    assert _toy_problems({"note": 1}) == ["spec.note: 1 is not of type 'string', 'null'"]


def test_the_validator_leaves_preserve_unknown_fields_objects_open() -> None:
    assert _toy_problems({"free": {"anything": {"at": "all"}}}) == []


def test_the_validator_allows_an_embedded_resource_its_type_and_metadata() -> None:
    template = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n", "labels": {"a": "b"}}}
    assert _toy_problems({"template": template}) == []


def test_the_mtls_server_certificate_of_a_new_generation_is_valid_for_its_crd(crds: Crds, everything_on: Run) -> None:
    (certificate,) = [
        obj
        for obj in custom_resources(everything_on)
        if obj["kind"] == "Certificate" and obj["metadata"]["name"] == "nats-mtls-server-tls"
    ]
    assert certificate["spec"]["subject"] == {"serialNumber": "dsx-bus-generation-2"}
    assert crd_schema.problems(_crd_of(crds, certificate), certificate) == []
    misspelt = copy.deepcopy(certificate)
    misspelt["spec"]["privateKey"]["rotationPolicy"] = "always"  # the CRD's enum is Never/Always
    assert crd_schema.problems(_crd_of(crds, misspelt), misspelt) != []
