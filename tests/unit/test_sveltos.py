"""The `sveltos` block: the agent's JSON, the manifests, the permissions, and the traps of SPEC.md caught at preview."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from dsxbus import checks, permissions
from dsxbus.config import EventBus, FleetDefaults
from dsxbus.stackfile import load_stack
from dsxbus.sveltos import agent, manifests

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "sveltos"
CERT = b"-----BEGIN CERTIFICATE-----\nMIIBcert\n-----END CERTIFICATE-----\n"
KEY = b"-----BEGIN PRIVATE KEY-----\nMIIBkey\n-----END PRIVATE KEY-----\n"
CA = b"-----BEGIN CERTIFICATE-----\nMIIBca\n-----END CERTIFICATE-----\n"
SEED_ACTION = '{{if eq .CloudEvent.type "auth.example.com.logout"}}Delete{{else}}Create{{end}}'


def _schema() -> dict[str, Any]:
    return dict(json.loads((FIXTURES / "sveltos-nats.schema.json").read_text()))


def _crd_schema(name: str) -> dict[str, Any]:
    crd = yaml.safe_load((FIXTURES / name).read_text())
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1beta1")
    return dict(version["schema"]["openAPIV3Schema"])


def _stack(name: str) -> EventBus:
    return load_stack(ROOT, name).bus


def _cpc(block: dict[str, Any], cross_layer: dict[str, Any] | None = None) -> EventBus:
    raw = yaml.safe_load((ROOT / "Pulumi.cpc-a.yaml").read_text())["config"]["dsx-bus:eventBus"]
    raw["sveltos"] = block
    raw["crossLayer"] = cross_layer or {"cscExports": ["broadcast.>"], "cscPrefixedExports": ["command.>"]}
    return EventBus.model_validate(raw)


def _block(**changes: Any) -> dict[str, Any]:
    raw = yaml.safe_load((ROOT / "Pulumi.cpc-a.yaml").read_text())["config"]["dsx-bus:eventBus"]["sveltos"]
    block = copy.deepcopy(raw)
    block.update(changes)
    return dict(block)


def _rule(**trigger: Any) -> dict[str, Any]:
    rule = copy.deepcopy(_block()["eventRules"][0])
    rule["trigger"].update(trigger)
    return dict(rule)


def _problems(bus: EventBus) -> list[str]:
    return [str(p) for p in checks.problems(bus) if not p.warning]


def _warnings(bus: EventBus) -> list[str]:
    return [str(p) for p in checks.problems(bus) if p.warning]


# --- The agent's JSON ---


def test_certificate_fields_are_standard_padded_base64_of_the_pem() -> None:
    config = agent.messaging_config(
        _stack("cpc-a").sveltos,
        server_url="tls://nats-mtls.dsx.svc.cluster.local:4222",
        certificate=CERT,
        key=KEY,
        ca=CA,
    )

    auth = json.loads(config.to_json())["nats"]["configuration"]["authorization"]

    assert base64.b64decode(auth["clientCert"]["certPem"], validate=True) == CERT
    assert base64.b64decode(auth["clientCert"]["keyPem"], validate=True) == KEY
    assert base64.b64decode(auth["rootCA"], validate=True) == CA
    assert not auth["rootCA"].startswith("-----BEGIN")


def test_core_nats_json_is_valid_against_the_upstream_schema_and_decodes_back() -> None:
    config = agent.messaging_config(
        _stack("cpc-a").sveltos, server_url="tls://h:4222", certificate=CERT, key=KEY, ca=CA
    )

    document = json.loads(config.to_json())

    jsonschema.validate(document, _schema())
    assert document["nats"]["configuration"]["subjects"] == ["command.user.>"]
    assert "jetstream" not in document
    assert agent.MessagingConfig.from_json(config.to_json()) == config


def test_jetstream_json_lists_streams_and_their_names_for_older_agents() -> None:
    block = _cpc(_block(nats=None, jetstream={"streams": [{"name": "USERS", "subjects": ["command.user.>"]}]})).sveltos
    config = agent.messaging_config(block, server_url="tls://h:4222", certificate=CERT, key=KEY, ca=CA)

    document = json.loads(config.to_json())

    jsonschema.validate(document, _schema())
    assert document["jetstream"]["configuration"]["streams"] == [{"name": "USERS", "subjects": ["command.user.>"]}]
    assert document["jetstream"]["configuration"]["subjects"] == ["USERS"]
    assert "nats" not in document


def test_raw_pem_in_a_certificate_field_is_refused_as_the_agent_refuses_it() -> None:
    document = {
        "nats": {"configuration": {"url": "tls://h:4222", "subjects": ["x"], "authorization": {"rootCA": CA.decode()}}}
    }

    with pytest.raises(ValueError):
        agent.MessagingConfig.from_json(json.dumps(document))


def test_the_url_is_the_in_cluster_nats_mtls_client_port_over_tls() -> None:
    assert agent.url("dsx") == "tls://nats-mtls.dsx.svc.cluster.local:4222"


# --- Manifests ---


def test_event_source_is_cluster_scoped_and_valid_against_its_crd() -> None:
    rule = _stack("cpc-a").sveltos.event_rules[0]

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
    rule = _stack("cpc-a").sveltos.event_rules[0]

    manifest = manifests.event_trigger(rule)

    jsonschema.validate(manifest, _crd_schema("eventtriggers.lib.projectsveltos.io.crd.yaml"))
    spec = manifest["spec"]
    assert "namespace" not in manifest["metadata"]
    assert spec["eventSourceName"] == rule.name
    assert spec["oneForEvent"] is True
    assert spec["cloudEventAction"] == SEED_ACTION
    assert spec["policyRefs"] == [{"kind": "ConfigMap", "name": "namespace-template", "namespace": "default"}]
    assert spec["sourceClusterSelector"] == {"matchLabels": {"dsx.example.com/cluster": "cpc-a"}}


# --- Permissions ---


def test_the_agent_identity_may_subscribe_to_its_subjects_and_publish_nothing() -> None:
    bus = _stack("cpc-a")

    entry = json.loads(permissions.render(permissions.permissions_document(bus)))["mtls"][agent.PERMISSION_NAME]

    assert entry == {
        "identity": "CN=sveltos-agent.cpc-a",
        "account": "CPC",
        "permissions": {"pub": {"deny": [">"]}, "sub": {"allow": ["command.user.>"]}},
    }


def test_with_jetstream_the_identity_may_read_only_its_own_streams() -> None:
    bus = _cpc(_block(jetstream={"streams": [{"name": "USERS", "subjects": ["command.user.>"]}]}))

    granted = agent.bus_permissions(bus.sveltos, bus.domain_account)

    assert granted.pub is not None and granted.sub is not None
    assert "$JS.CPC.API.CONSUMER.MSG.NEXT.USERS.*" in granted.pub.allow
    assert not any("DELETE" in s or "PURGE" in s or "STREAM.CREATE" in s for s in granted.pub.allow)
    assert granted.sub.allow == ("command.user.>", "_INBOX.>")


def test_an_operator_entry_for_the_agent_identity_replaces_the_generated_one() -> None:
    raw = yaml.safe_load((ROOT / "Pulumi.cpc-a.yaml").read_text())["config"]["dsx-bus:eventBus"]
    raw["auth"]["permissions"]["mtls"]["sveltos"] = {"identity": "CN=sveltos-agent.cpc-a", "account": "CPC"}

    document = permissions.permissions_document(EventBus.model_validate(raw))["mtls"]

    assert agent.PERMISSION_NAME not in document and "sveltos" in document


# --- Traps caught at preview ---


def test_the_example_stacks_enable_sveltos_without_problems() -> None:
    for stack in ("csc", "cpc-a"):
        bus = _stack(stack)
        assert bus.sveltos.enabled
        assert _problems(bus) == []
        assert _warnings(bus) == [] or stack == "csc"  # the CSC's noauth warning predates Sveltos


def test_streams_under_nats_are_refused_with_the_fix() -> None:
    with pytest.raises(ValueError, match=r"streams go under sveltos\.jetstream"):
        _cpc(_block(nats={"subjects": ["command.user.>"], "streams": [{"name": "USERS", "subjects": ["x"]}]}))


def test_a_trigger_without_source_cluster_selector_is_refused() -> None:
    rule = _rule()
    del rule["trigger"]["sourceClusterSelector"]

    found = _problems(_cpc(_block(eventRules=[rule])))

    assert found == [
        "dsx-bus:eventBus.sveltos.eventRules[0].trigger.sourceClusterSelector = None: required, and an empty "
        "selector matches no cluster: give the labels of the clusters whose events this rule handles, e.g. "
        "{matchLabels: {env: production}}"
    ]


def test_an_empty_source_cluster_selector_is_refused() -> None:
    found = _problems(_cpc(_block(eventRules=[_rule(sourceClusterSelector={})])))

    assert len(found) == 1 and "an empty selector matches no cluster" in found[0]


def test_one_for_event_false_with_a_cloud_event_action_is_refused() -> None:
    found = _problems(_cpc(_block(eventRules=[_rule(oneForEvent=False)])))

    assert len(found) == 1
    assert found[0].startswith("dsx-bus:eventBus.sveltos.eventRules[0].trigger.oneForEvent = False:")


@pytest.mark.parametrize("action", ["Create", "Delete", SEED_ACTION])
def test_an_action_that_always_renders_create_or_delete_is_accepted(action: str) -> None:
    assert _problems(_cpc(_block(eventRules=[_rule(cloudEventAction=action)]))) == []


@pytest.mark.parametrize(
    ("action", "said"),
    [
        ('{{if eq .CloudEvent.type "auth.example.com.logout"}}Delete{{end}}', "''"),
        ("{{if eq .CloudEvent.type 'auth.example.com.logout'}}Delete{{else}}Create{{end}}", "double quotes"),
        ("{{ if true }} Create {{ end }}", "' Create '"),
        ("{{ .CloudEvent.data.action }}", "anything"),
    ],
)
def test_an_action_that_can_render_anything_else_is_refused(action: str, said: str) -> None:
    found = _problems(_cpc(_block(eventRules=[_rule(cloudEventAction=action)])))

    assert len(found) == 1
    assert found[0].startswith("dsx-bus:eventBus.sveltos.eventRules[0].trigger.cloudEventAction = ")
    assert said in found[0] and "crashes it" in found[0]


def test_an_invalid_regular_expression_is_refused() -> None:
    rule = _rule()
    rule["match"][0]["cloudEventType"] = "^auth\\.(?=login)"

    found = _problems(_cpc(_block(eventRules=[rule])))

    assert len(found) == 1 and "match[0].cloudEventType" in found[0] and "never matches" in found[0]


def test_an_unanchored_regular_expression_is_a_warning() -> None:
    rule = _rule()
    rule["match"][0]["cloudEventSource"] = "auth\\.example\\.com"

    bus = _cpc(_block(eventRules=[rule]))

    assert _problems(bus) == []
    assert any("match[0].cloudEventSource" in w and "substring match" in w for w in _warnings(bus))


def test_a_subject_regex_that_matches_no_subscription_is_refused() -> None:
    rule = _rule()
    rule["match"][0]["subject"] = "^command\\.user\\.login$"  # the concrete subject, not the subscription

    found = _problems(_cpc(_block(eventRules=[rule])))

    assert len(found) == 1 and "matches none of the agent's subscriptions ['command.user.>']" in found[0]


def test_a_cpc_subject_no_cross_layer_route_delivers_is_refused() -> None:
    block = _block(nats={"subjects": ["user-operation"]})
    block["eventRules"][0]["match"][0]["subject"] = "^user-operation$"

    found = _problems(_cpc(block))

    assert found == [
        "dsx-bus:eventBus.sveltos.nats.subjects[0] = 'user-operation': no cross-layer route delivers it to this CPC "
        "(crossLayer.cscExports ['broadcast.>'], cscPrefixedExports ['command.>']): events published on the CSC "
        "never arrive. Listen on a subject those lists carry, or add it to them"
    ]


def test_an_inherited_cross_layer_list_is_what_route_delivery_is_checked_against() -> None:
    raw = yaml.safe_load((ROOT / "Pulumi.cpc-a.yaml").read_text())["config"]["dsx-bus:eventBus"]
    cpc = EventBus.model_validate(raw)
    fleet = FleetDefaults.model_validate({"crossLayer": {"cscExports": ["broadcast.>"]}})

    found = [str(p) for p in checks.effective_problems(cpc, fleet) if "sveltos" in p.key]

    assert len(found) == 1 and "sveltos.nats.subjects[0] = 'command.user.>': no cross-layer route" in found[0]


def test_an_operator_entry_for_the_agent_that_does_not_allow_its_subjects_is_refused() -> None:
    raw = yaml.safe_load((ROOT / "Pulumi.cpc-a.yaml").read_text())["config"]["dsx-bus:eventBus"]
    raw["auth"]["permissions"]["mtls"]["sveltos"] = {
        "identity": "CN=sveltos-agent.cpc-a",
        "account": "CPC",
        "permissions": {"pub": {"deny": [">"]}, "sub": {"allow": ["test.>"]}},
    }

    found = _problems(EventBus.model_validate(raw))

    assert found == [
        "dsx-bus:eventBus.auth.permissions.mtls.sveltos.permissions.sub = 'command.user.>': the Sveltos identity "
        "CN=sveltos-agent.cpc-a may not subscribe to it, so the agent's subscription is refused and no event arrives. "
        "Allow it, or remove this entry and let dsx-bus generate exactly the permissions Sveltos needs"
    ]


def test_sveltos_without_mtls_is_refused() -> None:
    raw = yaml.safe_load((ROOT / "Pulumi.cpc-a.yaml").read_text())["config"]["dsx-bus:eventBus"]
    raw["mtls"] = {"enabled": False}

    found = _problems(EventBus.model_validate(raw))

    assert len(found) == 1 and found[0].startswith("dsx-bus:eventBus.sveltos.enabled = True: the agent signs in")


def test_own_server_certificate_must_name_the_in_cluster_service() -> None:
    raw = yaml.safe_load((ROOT / "Pulumi.cpc-a.yaml").read_text())["config"]["dsx-bus:eventBus"]
    raw["mtls"] = {
        "enabled": True,
        "hostnames": ["mqtt-mtls.cpc-a.dsx.example.com"],
        "serverCertSans": ["mqtt-mtls.cpc-a.dsx.example.com"],
    }
    raw["sveltos"]["clientCertificateSecret"] = "sveltos-client"

    found = _problems(EventBus.model_validate(raw))

    assert len(found) == 1
    assert "mtls.serverCertSans" in found[0] and "'nats-mtls.dsx.svc.cluster.local'" in found[0]


def test_own_certificates_need_the_agent_client_certificate_secret() -> None:
    raw = yaml.safe_load((ROOT / "Pulumi.cpc-a.yaml").read_text())["config"]["dsx-bus:eventBus"]
    raw["mtls"] = {
        "enabled": True,
        "hostnames": ["mqtt-mtls.cpc-a.dsx.example.com"],
        "serverCertSans": ["mqtt-mtls.cpc-a.dsx.example.com", "nats-mtls.dsx.svc.cluster.local"],
    }

    found = _problems(EventBus.model_validate(raw))

    assert len(found) == 1 and found[0].startswith("dsx-bus:eventBus.sveltos.clientCertificateSecret = None:")


def test_enabled_without_a_transport_is_refused() -> None:
    found = _problems(_cpc(_block(nats=None, eventRules=[])))

    assert len(found) == 1 and "set sveltos.nats.subjects" in found[0]


def test_disabled_sveltos_adds_nothing() -> None:
    bus = _cpc(_block(enabled=False))

    assert agent.PERMISSION_NAME not in permissions.permissions_document(bus)["mtls"]
    assert _problems(bus) == []


def test_jetstream_streams_on_file_storage_are_refused() -> None:
    bus = _cpc(_block(jetstream={"streams": [{"name": "USERS", "subjects": ["command.user.>"]}], "storage": "file"}))

    found = _problems(bus)

    assert len(found) == 1 and found[0].startswith("dsx-bus:eventBus.sveltos.jetstream.storage = 'file':")


def test_each_stream_gets_the_durable_consumer_older_agents_look_up() -> None:
    block = _cpc(_block(jetstream={"streams": [{"name": "USERS", "subjects": ["command.user.>"]}]})).sveltos

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


def test_two_streams_giving_one_object_name_are_refused() -> None:
    streams = [{"name": "USER_OPS", "subjects": ["command.user.>"]}, {"name": "user-ops", "subjects": ["command.x"]}]

    found = _problems(_cpc(_block(jetstream={"streams": streams})))

    assert len(found) == 1
    assert found[0].startswith("dsx-bus:eventBus.sveltos.jetstream.streams[1].name = 'user-ops': gives the NACK")
    assert "sveltos-user-ops, as stream 'USER_OPS' does" in found[0]


def test_a_stream_name_without_a_letter_or_digit_is_refused() -> None:
    found = _problems(_cpc(_block(jetstream={"streams": [{"name": "__", "subjects": ["command.user.>"]}]})))

    assert len(found) == 1 and "needs a letter or digit" in found[0]


def test_an_identity_dsx_bus_cannot_issue_as_a_common_name_is_refused() -> None:
    found = _problems(_cpc(_block(identity="sveltos@dsx.example.com")))

    assert len(found) == 1 and found[0].startswith("dsx-bus:eventBus.sveltos.identity = 'sveltos@dsx.example.com':")
