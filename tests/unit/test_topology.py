"""The routing model's grants for the identities dsx-bus generates."""

from __future__ import annotations

from dsxbus import topology


def test_an_extra_account_leaf_without_jetstream_on_the_csc_may_not_reach_the_jetstream_api() -> None:
    grant = topology.extra_leaf_permissions(jetstream=False)
    assert grant.pub is not None and grant.sub is not None
    assert grant.pub.allow == grant.sub.allow == (">",)
    assert set(grant.pub.deny) == set(grant.sub.deny) == {"$SYS.>", "$MQTT.>", "$JS.>", "$KV.>", "$OBJ.>"}


def test_an_extra_account_leaf_with_jetstream_on_the_csc_keeps_it_but_no_server_internals() -> None:
    grant = topology.extra_leaf_permissions(jetstream=True)
    assert grant.pub is not None
    assert set(grant.pub.deny) == {"$SYS.>", "$MQTT.>"}
