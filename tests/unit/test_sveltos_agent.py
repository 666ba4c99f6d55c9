"""What sveltos-agent gets (dsxbus.sveltos.agent): its `sveltos-nats` JSON, decoded as it decodes it, its URL and
exactly the permissions it needs."""

from __future__ import annotations

import base64
import json
from typing import Any

import jsonschema
import pytest
import yaml

from dsxbus import permissions
from dsxbus.config import EventBus
from dsxbus.sveltos import agent
from tests.unit.stackconfigs import ROOT, cpc_with_sveltos, example, sveltos_block

FIXTURES = ROOT / "tests" / "fixtures" / "sveltos"
CERT = b"-----BEGIN CERTIFICATE-----\nMIIBcert\n-----END CERTIFICATE-----\n"
KEY = b"-----BEGIN PRIVATE KEY-----\nMIIBkey\n-----END PRIVATE KEY-----\n"
CA = b"-----BEGIN CERTIFICATE-----\nMIIBca\n-----END CERTIFICATE-----\n"


def _schema() -> dict[str, Any]:
    return dict(json.loads((FIXTURES / "sveltos-nats.schema.json").read_text()))


def test_certificate_fields_are_standard_padded_base64_of_the_pem() -> None:
    config = agent.messaging_config(
        example("cpc-a").sveltos,
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
        example("cpc-a").sveltos, server_url="tls://h:4222", certificate=CERT, key=KEY, ca=CA
    )

    document = json.loads(config.to_json())

    jsonschema.validate(document, _schema())
    assert document["nats"]["configuration"]["subjects"] == ["command.user.>"]
    assert "jetstream" not in document
    assert agent.MessagingConfig.from_json(config.to_json()) == config


def test_jetstream_json_lists_streams_and_their_names_for_older_agents() -> None:
    block = cpc_with_sveltos(
        sveltos_block(nats=None, jetstream={"streams": [{"name": "USERS", "subjects": ["command.user.>"]}]})
    ).sveltos
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


def test_the_agent_identity_may_subscribe_to_its_subjects_and_publish_nothing() -> None:
    bus = example("cpc-a")

    entry = json.loads(permissions.render(permissions.permissions_document(bus)))["mtls"][agent.PERMISSION_NAME]

    assert entry == {
        "identity": "CN=sveltos-agent.cpc-a",
        "account": "CPC",
        "permissions": {"pub": {"deny": [">"]}, "sub": {"allow": ["command.user.>"]}},
    }


def test_with_jetstream_the_identity_may_read_only_its_own_streams() -> None:
    bus = cpc_with_sveltos(sveltos_block(jetstream={"streams": [{"name": "USERS", "subjects": ["command.user.>"]}]}))

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
