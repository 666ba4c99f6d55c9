"""The traps of research/sveltos/SPEC.md (dsxbus.checks.sveltos), caught before anything deploys."""

from __future__ import annotations

import pytest
import yaml

from dsxbus import checks, permissions
from dsxbus.config import EventBus, FleetDefaults
from dsxbus.sveltos import agent
from tests.unit.stackconfigs import ROOT, cpc_with_sveltos, example, sveltos_block, sveltos_rule

SEED_ACTION = '{{if eq .CloudEvent.type "auth.example.com.logout"}}Delete{{else}}Create{{end}}'


def _problems(bus: EventBus) -> list[str]:
    return [str(p) for p in checks.problems(bus) if not p.warning]


def _warnings(bus: EventBus) -> list[str]:
    return [str(p) for p in checks.problems(bus) if p.warning]


def test_the_example_stacks_enable_sveltos_without_problems() -> None:
    for stack in ("csc", "cpc-a"):
        bus = example(stack)
        assert bus.sveltos.enabled
        assert _problems(bus) == []
        assert _warnings(bus) == [] or stack == "csc"  # the CSC's noauth warning predates Sveltos


def test_a_trigger_without_source_cluster_selector_is_refused() -> None:
    rule = sveltos_rule()
    del rule["trigger"]["sourceClusterSelector"]

    found = _problems(cpc_with_sveltos(sveltos_block(eventRules=[rule])))

    assert found == [
        "dsx-bus:eventBus.sveltos.eventRules[0].trigger.sourceClusterSelector = None: required, and an empty "
        "selector matches no cluster: give the labels of the clusters whose events this rule handles, e.g. "
        "{matchLabels: {env: production}}"
    ]


def test_an_empty_source_cluster_selector_is_refused() -> None:
    found = _problems(cpc_with_sveltos(sveltos_block(eventRules=[sveltos_rule(sourceClusterSelector={})])))

    assert len(found) == 1 and "an empty selector matches no cluster" in found[0]


def test_one_for_event_false_with_a_cloud_event_action_is_refused() -> None:
    found = _problems(cpc_with_sveltos(sveltos_block(eventRules=[sveltos_rule(oneForEvent=False)])))

    assert len(found) == 1
    assert found[0].startswith("dsx-bus:eventBus.sveltos.eventRules[0].trigger.oneForEvent = False:")


@pytest.mark.parametrize("action", ["Create", "Delete", SEED_ACTION])
def test_an_action_that_always_renders_create_or_delete_is_accepted(action: str) -> None:
    assert _problems(cpc_with_sveltos(sveltos_block(eventRules=[sveltos_rule(cloudEventAction=action)]))) == []


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
    found = _problems(cpc_with_sveltos(sveltos_block(eventRules=[sveltos_rule(cloudEventAction=action)])))

    assert len(found) == 1
    assert found[0].startswith("dsx-bus:eventBus.sveltos.eventRules[0].trigger.cloudEventAction = ")
    assert said in found[0] and "crashes it" in found[0]


def test_an_invalid_regular_expression_is_refused() -> None:
    rule = sveltos_rule()
    rule["match"][0]["cloudEventType"] = "^auth\\.(?=login)"

    found = _problems(cpc_with_sveltos(sveltos_block(eventRules=[rule])))

    assert len(found) == 1 and "match[0].cloudEventType" in found[0] and "never matches" in found[0]


def test_an_unanchored_regular_expression_is_a_warning() -> None:
    rule = sveltos_rule()
    rule["match"][0]["cloudEventSource"] = "auth\\.example\\.com"

    bus = cpc_with_sveltos(sveltos_block(eventRules=[rule]))

    assert _problems(bus) == []
    assert any("match[0].cloudEventSource" in w and "substring match" in w for w in _warnings(bus))


def test_a_subject_regex_that_matches_no_subscription_is_refused() -> None:
    rule = sveltos_rule()
    rule["match"][0]["subject"] = "^command\\.user\\.login$"  # the concrete subject, not the subscription

    found = _problems(cpc_with_sveltos(sveltos_block(eventRules=[rule])))

    assert len(found) == 1 and "matches none of the agent's subscriptions ['command.user.>']" in found[0]


def test_a_cpc_subject_no_cross_layer_route_delivers_is_refused() -> None:
    block = sveltos_block(nats={"subjects": ["user-operation"]})
    block["eventRules"][0]["match"][0]["subject"] = "^user-operation$"

    found = _problems(cpc_with_sveltos(block))

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
    found = _problems(cpc_with_sveltos(sveltos_block(nats=None, eventRules=[])))

    assert len(found) == 1 and "set sveltos.nats.subjects" in found[0]


def test_disabled_sveltos_adds_nothing() -> None:
    bus = cpc_with_sveltos(sveltos_block(enabled=False))

    assert agent.PERMISSION_NAME not in permissions.permissions_document(bus)["mtls"]
    assert _problems(bus) == []


def test_jetstream_streams_on_file_storage_are_refused() -> None:
    bus = cpc_with_sveltos(
        sveltos_block(jetstream={"streams": [{"name": "USERS", "subjects": ["command.user.>"]}], "storage": "file"})
    )

    found = _problems(bus)

    assert len(found) == 1 and found[0].startswith("dsx-bus:eventBus.sveltos.jetstream.storage = 'file':")
    assert "set mqttStreams.storage: file" in found[0]


def test_jetstream_streams_on_file_storage_are_accepted_when_the_bus_has_a_file_store() -> None:
    jetstream = {"streams": [{"name": "USERS", "subjects": ["command.user.>"]}], "storage": "file"}
    bus = cpc_with_sveltos(sveltos_block(jetstream=jetstream))
    bus = bus.model_copy(update={"mqtt_streams": bus.mqtt_streams.model_copy(update={"storage": "file"})})

    assert _problems(bus) == []


def test_two_streams_giving_one_object_name_are_refused() -> None:
    streams = [{"name": "USER_OPS", "subjects": ["command.user.>"]}, {"name": "user-ops", "subjects": ["command.x"]}]

    found = _problems(cpc_with_sveltos(sveltos_block(jetstream={"streams": streams})))

    assert len(found) == 1
    assert found[0].startswith("dsx-bus:eventBus.sveltos.jetstream.streams[1].name = 'user-ops': gives the NACK")
    assert "sveltos-user-ops, as stream 'USER_OPS' does" in found[0]


def test_a_stream_name_without_a_letter_or_digit_is_refused() -> None:
    found = _problems(
        cpc_with_sveltos(sveltos_block(jetstream={"streams": [{"name": "__", "subjects": ["command.user.>"]}]}))
    )

    assert len(found) == 1 and "needs a letter or digit" in found[0]


def test_an_identity_dsx_bus_cannot_issue_as_a_common_name_is_refused() -> None:
    found = _problems(cpc_with_sveltos(sveltos_block(identity="sveltos@dsx.example.com")))

    assert len(found) == 1 and found[0].startswith("dsx-bus:eventBus.sveltos.identity = 'sveltos@dsx.example.com':")


def test_a_subject_pattern_go_accepts_but_python_refuses_is_matched_as_go_would() -> None:
    rule = sveltos_block()["eventRules"][0]
    rule["match"][0]["subject"] = "^command\\.user\\.>$*"  # RE2 repeats an anchor; Python's re: 'nothing to repeat'
    assert not [p for p in checks.problems(cpc_with_sveltos(sveltos_block(eventRules=[rule]))) if not p.warning]
