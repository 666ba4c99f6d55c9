"""What dsx-bus deploys for Sveltos (dsxbus.sveltos.manifests): valid against the CRDs, streams with the durable
consumers the agent looks up, object names Kubernetes accepts."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
import yaml

from dsxbus.sveltos import manifests
from tests.unit.stackconfigs import ROOT, cpc_with_sveltos, example, sveltos_block

FIXTURES = ROOT / "tests" / "fixtures" / "sveltos"
SEED_ACTION = '{{if eq .CloudEvent.type "auth.example.com.logout"}}Delete{{else}}Create{{end}}'


def _crd_schema(name: str) -> dict[str, Any]:
    crd = yaml.safe_load((FIXTURES / name).read_text())
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1beta1")
    return dict(version["schema"]["openAPIV3Schema"])


def test_event_source_is_cluster_scoped_and_valid_against_its_crd() -> None:
    rule = example("cpc-a").sveltos.event_rules[0]

    manifest = manifests.event_source(rule)

    assert "namespace" not in manifest["metadata"]
    jsonschema.validate(manifest, _crd_schema("eventsources.lib.projectsveltos.io.crd.yaml"))
    assert manifest["spec"]["messagingMatchCriteria"] == [
        {
            "subject": r"^command\.user\.>$",
            "cloudEventSource": r"^auth\.example\.com$",
            "cloudEventType": r"^auth\.example\.com\.(login|logout)$",
        }
    ]


def test_event_trigger_references_its_source_and_template_and_is_valid_against_its_crd() -> None:
    rule = example("cpc-a").sveltos.event_rules[0]

    manifest = manifests.event_trigger(rule)

    jsonschema.validate(manifest, _crd_schema("eventtriggers.lib.projectsveltos.io.crd.yaml"))
    spec = manifest["spec"]
    assert "namespace" not in manifest["metadata"]
    assert spec["eventSourceName"] == rule.name
    assert spec["oneForEvent"] is True
    assert spec["cloudEventAction"] == SEED_ACTION
    assert spec["policyRefs"] == [{"kind": "ConfigMap", "name": "namespace-template", "namespace": "default"}]
    assert spec["sourceClusterSelector"] == {"matchLabels": {"dsx.example.com/cluster": "cpc-a"}}


def test_each_stream_gets_the_durable_consumer_older_agents_look_up() -> None:
    block = cpc_with_sveltos(
        sveltos_block(jetstream={"streams": [{"name": "USERS", "subjects": ["command.user.>"]}]})
    ).sveltos

    assert manifests.nack_streams(block) == [
        {
            "name": "USERS",
            "subjects": ["command.user.>"],
            "storage": "memory",
            "replicas": 1,
            "retention": "limits",
            "maxAge": "24h",
            "discard": "old",
        }
    ]
    assert [(c["streamName"], c["durableName"], c["ackPolicy"]) for c in manifests.nack_consumers(block)] == [
        ("USERS", "sveltos-agent", "explicit")
    ]
    assert manifests.jetstream_consumers(block)[0]["config"]["ack_wait"] == 30 * 10**9


@pytest.mark.parametrize(("stream", "token"), [("USERS", "users"), ("USER_OPS", "user-ops"), ("$SYS#x", "sys-x")])
def test_a_stream_name_becomes_a_kubernetes_object_name(stream: str, token: str) -> None:
    assert manifests.stream_object_token(stream) == token
