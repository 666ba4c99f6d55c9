"""What the program declares for Sveltos: the agent's Secret (decoded and checked), its certificate, the rules."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import jsonschema

from dsxbus.sveltos import agent
from tests.program import harness
from tests.program.conftest import CSC_REF
from tests.program.harness import SECRET_VALUE, SIG_KEY, Run, issued_tls, strings, unwrap

SCHEMA = Path(__file__).resolve().parents[1] / "fixtures" / "sveltos" / "sveltos-nats.schema.json"


def _agent_json(run: Run) -> dict[str, Any]:
    secret = unwrap(run.k8s_objects()[("Secret", agent.SECRET_NAME)].inputs)
    return dict(json.loads(base64.b64decode(secret["data"][agent.SECRET_KEY])))


def test_the_sveltos_nats_secret_is_where_the_agent_reads_it(cpc_a: Run) -> None:
    secret = unwrap(cpc_a.k8s_objects()[("Secret", agent.SECRET_NAME)].inputs)

    assert secret["metadata"]["namespace"] == "projectsveltos"
    assert list(secret["data"]) == ["sveltos-nats"]


def test_the_agent_json_is_secret_in_state(cpc_a: Run, csc: Run) -> None:
    for run in (cpc_a, csc):
        data = run.k8s_objects()[("Secret", agent.SECRET_NAME)].inputs["data"]
        assert data[SIG_KEY] == SECRET_VALUE or data["sveltos-nats"][SIG_KEY] == SECRET_VALUE


def test_the_agent_json_is_schema_valid_and_carries_the_issued_client_certificate(cpc_a: Run) -> None:
    document = _agent_json(cpc_a)
    jsonschema.validate(document, json.loads(SCHEMA.read_text()))
    issued = issued_tls(agent.CLIENT_TLS_SECRET)

    config = agent.MessagingConfig.from_json(json.dumps(document)).nats
    assert config is not None
    auth = config.configuration.authorization
    assert auth is not None and auth.client_cert is not None
    assert auth.client_cert.cert_pem == base64.b64decode(issued["tls.crt"])
    assert auth.client_cert.key_pem == base64.b64decode(issued["tls.key"])
    assert auth.root_ca == base64.b64decode(issued["ca.crt"])
    assert auth.client_cert.cert_pem.startswith(b"-----BEGIN CERTIFICATE-----")


def test_the_agent_dials_the_in_cluster_mtls_port_and_subscribes_to_the_configured_subjects(
    cpc_a: Run, csc: Run
) -> None:
    assert _agent_json(cpc_a)["nats"]["configuration"]["url"] == "tls://nats-mtls.dsx.svc.cluster.local:4222"
    assert _agent_json(cpc_a)["nats"]["configuration"]["subjects"] == ["command.user.>"]
    assert _agent_json(csc)["nats"]["configuration"]["subjects"] == ["user-operation"]


def test_the_client_certificate_is_requested_for_the_agent_identity_and_awaited(cpc_a: Run) -> None:
    certificate = unwrap(cpc_a.k8s_objects()[("Certificate", agent.CLIENT_TLS_SECRET)].inputs)

    assert certificate["spec"]["commonName"] == "sveltos-agent.cpc-a"
    assert "client auth" in certificate["spec"]["usages"]
    assert certificate["spec"]["issuerRef"]["name"] == "dsx-ca"
    assert certificate["metadata"]["annotations"] == {"pulumi.com/waitFor": "condition=Ready"}


def test_the_program_reads_the_certificate_secret_it_asked_for(cpc_a: Run) -> None:
    reads = [c for c in cpc_a.captured if c.op == "read" and c.type.startswith("kubernetes:")]

    assert [(c.type, c.name) for c in reads] == [("kubernetes:core/v1:Secret", "cpc-a-sveltos-client-tls")]


def test_the_permissions_configmap_grants_the_agent_identity(cpc_a: Run) -> None:
    configmap = unwrap(cpc_a.k8s_objects()[("ConfigMap", "auth-callout-permissions")].inputs)
    document = json.loads(configmap["data"]["permissions.json"])

    assert document["mtls"][agent.PERMISSION_NAME] == {
        "identity": "CN=sveltos-agent.cpc-a",
        "account": "CPC",
        "permissions": {"pub": {"deny": [">"]}, "sub": {"allow": ["command.user.>"]}},
    }


def test_nats_mtls_requires_and_verifies_client_certificates_on_its_client_port(cpc_a: Run, cpc_b: Run) -> None:
    with_sveltos = cpc_a.charts()["nats-mtls"]["values"]["config"]["merge"]
    without = cpc_b.charts()["nats-mtls"]["values"]["config"]["merge"]

    assert with_sveltos["tls"]["verify"] is True
    assert with_sveltos["tls"]["cert_file"].endswith("tls.crt")
    assert "tls" not in without


def test_event_source_and_trigger_are_cluster_scoped_and_the_template_is_instantiated(cpc_a: Run) -> None:
    objects = cpc_a.k8s_objects()
    source = unwrap(objects[("EventSource", "user-operation")].inputs)
    trigger = unwrap(objects[("EventTrigger", "user-operation")].inputs)
    template = unwrap(objects[("ConfigMap", "namespace-template")].inputs)

    assert source["apiVersion"] == trigger["apiVersion"] == "lib.projectsveltos.io/v1beta1"
    assert "namespace" not in source["metadata"] and "namespace" not in trigger["metadata"]
    assert trigger["spec"]["policyRefs"] == [
        {"kind": "ConfigMap", "name": "namespace-template", "namespace": "default"}
    ]
    assert template["metadata"]["annotations"] == {"projectsveltos.io/instantiate": "ok"}
    assert "{{ .CloudEvent.subject }}" in template["data"]["namespace.yaml"]


def test_a_cluster_without_sveltos_declares_nothing_for_it(cpc_b: Run) -> None:
    kinds = {kind for kind, _ in cpc_b.k8s_objects()}

    assert not kinds & {"EventSource", "EventTrigger"}
    assert ("Secret", agent.SECRET_NAME) not in cpc_b.k8s_objects()
    assert not [c for c in cpc_b.captured if c.op == "read" and c.type.startswith("kubernetes:")]


def test_no_private_key_reaches_an_output_or_a_configmap(cpc_a: Run) -> None:
    key = base64.b64decode(issued_tls(agent.CLIENT_TLS_SECRET)["tls.key"]).decode()
    for captured in cpc_a.registered():
        if captured.type == "kubernetes:core/v1:ConfigMap":
            assert not [s for s, _ in strings(captured.inputs) if "PRIVATE KEY" in s or s == key]
    assert "PRIVATE KEY" not in json.dumps(cpc_a.outputs)


def test_on_jetstream_the_program_creates_the_stream_and_the_agent_consumer(csc_first: Run) -> None:
    bus = harness.stack_config("cpc-a")["dsx-bus:eventBus"]
    bus["sveltos"]["jetstream"] = {"streams": [{"name": "USERS", "subjects": ["command.user.>"]}]}
    run = harness.run("cpc-a", event_bus=bus, stack_outputs={CSC_REF: csc_first.outputs})

    assert run.error is None, run.errors()
    objects = run.k8s_objects()
    assert unwrap(objects[("Stream", "sveltos-users")].inputs)["spec"]["subjects"] == ["command.user.>"]
    consumer = unwrap(objects[("Consumer", "sveltos-users")].inputs)["spec"]
    assert (consumer["streamName"], consumer["durableName"]) == ("USERS", "sveltos-agent")
    assert _agent_json(run)["jetstream"]["configuration"]["streams"] == [
        {"name": "USERS", "subjects": ["command.user.>"]}
    ]


def test_the_preview_says_how_to_turn_on_the_classifier_nats_watcher(cpc_a: Run, cpc_b: Run) -> None:
    assert ("INFO", agent.NATS_WATCHER_NOTE) in cpc_a.logs
    assert ("INFO", agent.NATS_WATCHER_NOTE) not in cpc_b.logs
