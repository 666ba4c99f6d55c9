"""The routing model's grants for the identities dsx-bus generates."""

from __future__ import annotations

import pytest

from dsxbus import topology
from dsxbus.config import EventBus
from dsxbus.crosslayer import CrossLayer


def test_an_extra_account_leaf_without_jetstream_on_the_csc_may_not_reach_the_jetstream_api() -> None:
    grant = topology.extra_leaf_permissions(jetstream=False)
    assert grant.pub is not None and grant.sub is not None
    assert grant.pub.allow == grant.sub.allow == (">",)
    assert set(grant.pub.deny) == set(grant.sub.deny) == {"$SYS.>", "$MQTT.>", "$JS.>", "$KV.>", "$OBJ.>"}


def test_an_extra_account_leaf_with_jetstream_on_the_csc_keeps_it_but_no_server_internals() -> None:
    grant = topology.extra_leaf_permissions(jetstream=True)
    assert grant.pub is not None
    assert set(grant.pub.deny) == {"$SYS.>", "$MQTT.>"}


UPLINK_PUB = {"cpc2csc.a.>", "$JSC.R.>"}
UPLINK_SUB = {"$JS.FC.$MQTT_msgs.>", "$JS.FC.$MQTT_rmsgs.>"}


def test_a_cpc_leaf_without_the_csc_uplinks_may_not_deliver_to_them_answer_for_them_or_hear_their_flow_control() -> (
    None
):
    grant = topology.leaf_permissions("a", CrossLayer(), uplinks=False)
    assert grant.pub is not None and grant.sub is not None
    assert not UPLINK_PUB & set(grant.pub.allow)
    assert not UPLINK_SUB & set(grant.sub.allow)
    assert not [s for s in (*grant.pub.allow, *grant.sub.allow) if s.startswith(("cpc2csc.", "$JSC."))]


def test_a_cpc_leaf_with_the_csc_uplinks_gets_exactly_their_grants_more() -> None:
    without = topology.leaf_permissions("a", CrossLayer(), uplinks=False)
    grant = topology.leaf_permissions("a", CrossLayer(), uplinks=True)
    assert grant.pub is not None and grant.sub is not None and without.pub is not None and without.sub is not None
    assert set(grant.pub.allow) - set(without.pub.allow) == UPLINK_PUB
    assert set(grant.sub.allow) - set(without.sub.allow) == UPLINK_SUB


@pytest.mark.parametrize("uplinks", [False, True])
def test_the_csc_grants_every_cpc_leaf_the_uplinks_exactly_when_it_has_them(uplinks: bool) -> None:
    csc = EventBus.model_validate(
        {
            "clusterType": "csc",
            "cpcs": {"a": "org/p/cpc-a"},
            "authCallout": {"image": "x:1"},
            "mqttStreams": {"uplinks": uplinks},
        }
    )
    grant = topology.cpc_leaf_permissions(csc)["a"]
    assert grant.pub is not None
    assert (set(grant.pub.allow) >= UPLINK_PUB) is uplinks
