"""nats-mtls's leafs into the main servers, with the grants dsx-bus gives them, on every supported nats-server version.

`mtls-leaf` relays the cluster's mTLS clients (permissions.mtls_relay_grant) and `mtls-sys-leaf` carries SYS
(permissions.MTLS_SYS_LEAF_GRANT). What each really subscribes to is read from the main server (`/leafz`: the main
server accepts a wildcard interest whatever the grant and filters deliveries silently), so a nats-server release
that needs more shows up here; the attacks use each seed as a client of the main server.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from natstools import REPLY_WAIT, answered, seed_client

from dsxbus import fleet, naming, permissions, subjects
from dsxbus.config import Permissions, SubjectRule
from dsxbus.local import clients, servers
from dsxbus.local.state import Federation, LocalCluster

MTLS_STACKS = ["csc", "cpc-a"]


def _relay_grant(federation: Federation, stack: str) -> Permissions:
    return permissions.mtls_relay_grant(fleet.resolve(fleet.load(federation.project), stack).bus)


def _leaf_subscriptions(cluster: LocalCluster, account: str) -> list[str]:
    """What nats-mtls's leaf into `account` has registered with the main server (its interest)."""
    leafz = servers.monitor(cluster.main, "leafz?subs=1")
    assert leafz is not None
    assert cluster.mtls is not None
    (leaf,) = [leaf for leaf in leafz["leafs"] if leaf["account"] == account and leaf.get("name") == cluster.mtls.name]
    return [s for s in leaf.get("subscriptions_list") or [] if not s.startswith("$LDS.")]


def _allowed(rule: SubjectRule | None, subject: str) -> bool:
    if rule is None:
        return True
    inside = not rule.allow or any(subjects.is_subset(subject, allowed) for allowed in rule.allow)
    return inside and not any(subjects.intersects(subject, denied) for denied in rule.deny)


@pytest.mark.parametrize("stack", MTLS_STACKS)
def test_every_subscription_of_the_nats_mtls_sys_leaf_is_within_its_grant(federation: Federation, stack: str) -> None:
    found = _leaf_subscriptions(federation.clusters[stack], naming.SYS)
    assert any(s.startswith("$SYS.REQ.SERVER.PING") for s in found), found  # it does answer pings
    assert [s for s in found if not _allowed(permissions.MTLS_SYS_LEAF_GRANT.sub, s)] == []


async def _mtls_client_subscribed(federation: Federation, stack: str) -> list[str]:
    """The relay's interest while an mTLS MQTT client holds a QoS 1 subscription on nats-mtls."""
    cluster = federation.clusters[stack]
    assert cluster.mtls is not None and federation.ca is not None
    identity = cluster.mtls_clients["mqtt-client"]
    client = clients.Mqtt(cluster.mtls.ports["mqtt"], tls=(str(federation.ca), identity.cert, identity.key))
    client.connect()
    try:
        assert client.subscribe("test/leafs/#", 1) == 1
        await asyncio.sleep(0.3)
        return _leaf_subscriptions(cluster, "CSC" if stack == "csc" else "CPC")
    finally:
        client.close()


@pytest.mark.parametrize("stack", MTLS_STACKS)
def test_every_subscription_of_the_nats_mtls_relay_is_within_its_grant(federation: Federation, stack: str) -> None:
    found = asyncio.run(_mtls_client_subscribed(federation, stack))
    assert "test.leafs.>" in found, found
    grant = _relay_grant(federation, stack)
    assert [s for s in found if not _allowed(grant.sub, s)] == []


async def _pings(federation: Federation, stack: str) -> list[str]:
    async with clients.opened(federation) as c:
        client = await c.nc(federation.clusters[stack], naming.SYS)
        inbox = client.new_inbox()
        answers: list[str] = []

        async def on_answer(msg: Any) -> None:
            answers.append(json.loads(msg.data)["server"]["name"])

        await client.subscribe(inbox, cb=on_answer)
        await client.publish("$SYS.REQ.SERVER.PING.HEALTHZ", b"", reply=inbox)
        await client.flush()
        await asyncio.sleep(REPLY_WAIT)
        return sorted(answers)


@pytest.mark.parametrize("stack", MTLS_STACKS)
def test_a_sys_client_of_the_main_servers_is_answered_by_nats_mtls_too(federation: Federation, stack: str) -> None:
    cluster = federation.clusters[stack]
    assert cluster.mtls is not None
    assert asyncio.run(_pings(federation, stack)) == sorted([cluster.main.name, cluster.mtls.name])


async def _sys_seed_requests(federation: Federation, subject: str) -> tuple[bool, bool]:
    async with seed_client(federation, federation.keys["csc"].mtls_sys_leaf.seed) as (client, errors):
        return await answered(client, subject, b"{}"), errors.refused("publish", subject)


@pytest.mark.parametrize(
    "subject",
    [
        "$SYS.REQ.SERVER.PING.CONNZ",  # every connection of every account on the main servers
        "$SYS.REQ.ACCOUNT.CSC.CONNZ",
        "$SYS.REQ.SERVER.PING.RELOAD",
    ],
)
def test_the_nats_mtls_sys_leaf_seed_asks_the_main_servers_nothing(federation: Federation, subject: str) -> None:
    replied, refused = asyncio.run(_sys_seed_requests(federation, subject))
    assert not replied
    assert refused


async def _sys_seed_listens(federation: Federation) -> bool:
    async with seed_client(federation, federation.keys["csc"].mtls_sys_leaf.seed) as (client, errors):
        await client.subscribe("$SYS.ACCOUNT.CSC.CONNECT")
        await client.flush()
        await asyncio.sleep(0.2)
        return errors.refused("subscription", "$SYS.ACCOUNT.CSC.CONNECT")


def test_the_nats_mtls_sys_leaf_seed_hears_no_connect_events(federation: Federation) -> None:
    assert asyncio.run(_sys_seed_listens(federation))


async def _relay_attempts(federation: Federation) -> tuple[clients.Result, clients.Result, bool, bool, bool]:
    async with seed_client(federation, federation.keys["csc"].mtls_leaf.seed) as (client, errors):
        async with clients.opened(federation) as c:
            command_b = await c.sink(federation.cluster("b"), "CPC", "command.x", 0)
            own = await c.sink(federation.csc, "CSC", "test.relay", 1)
            allowed = await clients.deliver(
                "mtls-leaf seed -> test.relay", clients.nats_publisher(client, "test.relay"), [own]
            )
            forged = await clients.deliver(
                "mtls-leaf seed -> cpc.b.command.x", clients.nats_publisher(client, "cpc.b.command.x"), [command_b]
            )
        connections = await answered(client, "$SYS.REQ.ACCOUNT.PING.CONNZ", b"{}")
        await client.subscribe("cpc.>")
        await client.flush()
        await asyncio.sleep(0.2)
        return (
            allowed,
            forged,
            connections,
            errors.refused("publish", "cpc.b.command.x"),
            errors.refused("subscription", "cpc.>"),
        )


def test_the_nats_mtls_relay_seed_does_only_what_the_mtls_clients_may(federation: Federation) -> None:
    """The CSC's mTLS clients may use test.> (and the Sveltos agent hears user-operation): nothing of the CPCs."""
    allowed, forged, connections, publish_refused, subscribe_refused = asyncio.run(_relay_attempts(federation))
    assert allowed.ok, allowed.detail
    assert forged.ok, forged.detail
    assert publish_refused and subscribe_refused
    assert not connections, "the seed got the account's connection list"
