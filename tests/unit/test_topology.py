"""The routing model's grants for the identities dsx-bus generates."""

from __future__ import annotations

from dsxbus import topology
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


def test_every_cpc_pair_is_reported_once_per_colliding_pattern_even_when_the_cpcs_share_their_lists() -> None:
    shared = CrossLayer(csc_exports=("sensor.a.>", "other.>"), csc_prefixed_exports=(), cpc_exports=("sensor.*.x",))
    leaks = topology.unprefixed_leaks({"a": shared, "b": shared, "c": shared}, {"a": "2.12.6", "b": "2.15.1"})
    # a (2.12.6) and c (unknown version) need the unprefixed grant; b (2.15.1) does not.
    assert [(leak.source, leak.target, leak.csc_export, leak.witness) for leak in leaks] == [
        ("a", "b", "sensor.a.>", "sensor.a.x"),
        ("a", "c", "sensor.a.>", "sensor.a.x"),
        ("c", "a", "sensor.a.>", "sensor.a.x"),
        ("c", "b", "sensor.a.>", "sensor.a.x"),
    ]
