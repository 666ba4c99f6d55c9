"""An attacker holding CPC a's leaf seed, on a real local federation, on every supported nats-server version.

Each test tries one indirect path beyond CPC a's own space (JetStream API, republish, sources, inboxes, MQTT
internals) the way an attacker would: as a client of the CSC with the seed, or as a leaf node of its own that
dials the CSC's leaf port with it. docs/threat-model.md lists what each identity may do.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nats
import nats.errors
import pytest
from natstools import ROGUE_USER, answered, leaf_seed_client, rogue_leaf_node

from dsxbus import naming, topology
from dsxbus.local import clients, servers
from dsxbus.local.clients import Sink
from dsxbus.local.state import Federation


async def _refused_request(
    federation: Federation, subject: str, body: dict[str, Any], account: str = "CSC"
) -> tuple[bool, bool]:
    """(no reply came, the server named the publish a permissions violation)."""
    async with leaf_seed_client(federation, "cpc-a", account) as (client, errors):
        replied = await answered(client, subject, json.dumps(body).encode())
        # nats-server maps `$JS.CSC.API.` to this domain's `$JS.API.` before it checks, and names the mapped subject.
        mapped = subject.replace("$JS.CSC.API.", "$JS.API.", 1)
        return not replied, errors.refused("publish", subject, mapped)


async def _stream_names(federation: Federation) -> list[str]:
    """The CSC's streams: its own and the per-CPC source streams (SOURCES)."""
    names: list[str] = []
    async with clients.opened(federation) as c:
        for account in ("CSC", naming.SOURCES):
            reply = await (await c.nc(federation.csc, account)).request("$JS.API.STREAM.NAMES", b"{}", timeout=5)
            names += json.loads(reply.data)["streams"]
    return names


def _assert_refused(outcome: tuple[bool, bool]) -> None:
    silent, named = outcome
    assert silent, "the CSC answered a request the leaf identity must not make"
    assert named, "the CSC did not name the refused publish a permissions violation"


@pytest.mark.parametrize(
    ("subject", "body"),
    [
        ("$JS.API.INFO", {}),
        ("$JS.CSC.API.INFO", {}),
        ("$JS.API.STREAM.NAMES", {}),
        ("$JS.API.STREAM.CREATE.SPY", {"name": "SPY", "subjects": ["cpc.b.>"], "storage": "memory"}),
        (
            "$JS.API.STREAM.CREATE.RELAY",
            {
                "name": "RELAY",
                "subjects": ["cpc.a.relay.>"],
                "storage": "memory",
                "republish": {"src": "cpc.a.relay.>", "dest": "cpc.b.command.>"},
            },
        ),
        ("$JS.API.STREAM.DELETE.$MQTT_msgs", {}),
        ("$JS.API.STREAM.MSG.GET.$MQTT_msgs", {"last_by_subj": "$MQTT.msgs.cpc.b.command.x"}),
        ("$JS.API.DIRECT.GET.$MQTT_msgs", {"last_by_subj": "$MQTT.msgs.cpc.b.command.x"}),
        (
            "$JS.API.CONSUMER.CREATE.$MQTT_msgs",
            {"stream_name": "$MQTT_msgs", "config": {"filter_subject": "$MQTT.msgs.cpc.b.>", "ack_policy": "none"}},
        ),
        (
            f"{topology.SOURCES_API}.CONSUMER.CREATE.{topology.cpc_source_stream('msgs', 'b')}",
            {"stream_name": topology.cpc_source_stream("msgs", "b"), "config": {"ack_policy": "none"}},
        ),
        (
            f"{topology.MQTT_API}.CONSUMER.CREATE.$MQTT_msgs",
            {"stream_name": "$MQTT_msgs", "config": {"filter_subject": "$MQTT.msgs.cpc.b.>", "ack_policy": "none"}},
        ),
        # The CSC's uplink streams (what it sources of each CPC's MQTT streams): neither another CPC's nor its own.
        (
            f"$JS.API.CONSUMER.CREATE.{topology.cpc_uplink_stream('msgs', 'b')}",
            {"stream_name": topology.cpc_uplink_stream("msgs", "b"), "config": {"ack_policy": "none"}},
        ),
        (
            f"$JS.API.CONSUMER.CREATE.{topology.cpc_uplink_stream('msgs', 'a')}",
            {"stream_name": topology.cpc_uplink_stream("msgs", "a"), "config": {"ack_policy": "none"}},
        ),
        (f"$JS.API.STREAM.PURGE.{topology.cpc_uplink_stream('msgs', 'b')}", {}),
        ("$KV.anything.key", {}),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_cpc_a_leaf_seed_reaches_no_jetstream_api_beyond_its_own_source_streams(
    federation: Federation, subject: str, body: dict[str, Any]
) -> None:
    before = asyncio.run(_stream_names(federation))
    _assert_refused(asyncio.run(_refused_request(federation, subject, body)))
    assert sorted(asyncio.run(_stream_names(federation))) == sorted(before)


EXTRA = "LaunchLayer"
"""The example fleet's extra account: one space across the fleet, with JetStream on the CSC."""


@pytest.mark.parametrize(
    "subject",
    [
        "$SYS.REQ.ACCOUNT.PING.CONNZ",  # every connection of the account on the CSC, other CPCs' leafs included
        "$SYS.REQ.SERVER.PING.CONNZ",
        "$SYS.REQ.USER.INFO",
        "$MQTT.JSA.x.SC.x",
    ],
)
def test_cpc_a_extra_account_leaf_seed_gets_no_server_internals(federation: Federation, subject: str) -> None:
    _assert_refused(asyncio.run(_refused_request(federation, subject, {}, EXTRA)))


async def _extra_account_jetstream(federation: Federation) -> dict[str, Any]:
    async with clients.opened(federation) as c:
        reply = await (await c.nc(federation.cluster("a"), EXTRA)).request("$JS.API.INFO", b"", timeout=5)
        info: dict[str, Any] = json.loads(reply.data)
        return info


def test_cpc_a_extra_account_clients_still_use_its_jetstream_on_the_csc(federation: Federation) -> None:
    info = asyncio.run(_extra_account_jetstream(federation))
    assert "error" not in info, info
    assert info["domain"] == "CSC"


async def _subscribe_refused(federation: Federation, subject: str) -> bool:
    async with leaf_seed_client(federation, "cpc-a") as (client, errors):
        await client.subscribe(subject)
        await client.flush()
        await asyncio.sleep(0.2)
        return errors.refused("subscription", subject)


@pytest.mark.parametrize(
    "subject", ["_INBOX.>", "$MQTT.msgs.>", "$JS.FC.>", "cpc.b.>", "csc2cpc.b.>", "cpc2csc.>", "$JSC.R.>", ">"]
)
def test_cpc_a_leaf_seed_may_not_listen_beyond_its_own_cpc(federation: Federation, subject: str) -> None:
    assert asyncio.run(_subscribe_refused(federation, subject))


async def _publish_refused(federation: Federation, subject: str) -> bool:
    async with leaf_seed_client(federation, "cpc-a") as (client, errors):
        await client.publish(subject, b"forged")
        await client.flush()
        await asyncio.sleep(0.2)
        return errors.refused("publish", subject)


def test_cpc_a_leaf_seed_may_not_publish_into_the_uplink_deliveries_of_another_cpc(federation: Federation) -> None:
    """CPC b's uplink source reads `cpc2csc.b.<random>`; only CPC b's leaf may deliver there."""
    assert asyncio.run(_publish_refused(federation, "cpc2csc.b.S.forged"))
    assert not asyncio.run(_publish_refused(federation, "cpc2csc.a.S.own"))  # positive control: its own prefix


@pytest.fixture
def rogue_leaf_a(tmp_path: Path, federation: Federation) -> Iterator[servers.Server]:
    """A leaf node of the attacker's own, dialling the CSC's leaf port with CPC a's leaf seed (it lands in CPC-a)."""
    with rogue_leaf_node(tmp_path, federation, federation.keys["cpc-a"].leaf["CSC"].seed) as server:
        servers.wait_for(lambda: servers.leaf_count(server) or None, 5, "the rogue leaf to connect")
        yield server


async def _forge_mqtt_store(federation: Federation, rogue: servers.Server) -> list[clients.Result]:
    """Publish into the CSC's MQTT store through the leaf: nats-server lets leafs pass `$MQTT.` subjects
    without checking allow lists (only deny lists), so this is the path an allow list alone leaves open."""
    attacker = await nats.connect(rogue.url("client"), user=ROGUE_USER[0], password=ROGUE_USER[1])
    try:
        async with clients.opened(federation) as c:
            store = await c.sink(federation.csc, "CSC", "$MQTT.msgs.>", 0)
            own = await c.sink(federation.csc, "CSC", "cpc.a.sensor.probe", 1)
            # Positive control: the leaf carries what CPC a may send, so interest has crossed.
            allowed = await clients.deliver(
                "rogue leaf a -> cpc.a.sensor.probe", clients.nats_publisher(attacker, "cpc.a.sensor.probe"), [own]
            )
            forged = await clients.deliver(
                "rogue leaf a -> $MQTT.msgs.cpc.b.command.x",
                clients.nats_publisher(attacker, "$MQTT.msgs.cpc.b.command.x"),
                [store],
            )
            return [allowed, forged]
    finally:
        await attacker.close()


def test_a_rogue_leaf_with_cpc_a_seed_cannot_write_into_the_csc_mqtt_store(
    federation: Federation, rogue_leaf_a: servers.Server
) -> None:
    allowed, forged = asyncio.run(_forge_mqtt_store(federation, rogue_leaf_a))
    assert allowed.ok, allowed.detail
    assert forged.ok, forged.detail


async def _eavesdrop_mqtt_store(federation: Federation, rogue: servers.Server) -> list[clients.Result]:
    attacker = await nats.connect(rogue.url("client"), user=ROGUE_USER[0], password=ROGUE_USER[1])
    try:
        spy = Sink("rogue leaf a $MQTT.msgs.>", 0)

        async def on_message(msg: Any) -> None:
            spy.got.append(clients.Delivery(msg.subject, msg.data))

        await attacker.subscribe("$MQTT.msgs.>", cb=on_message)
        await attacker.flush()
        async with clients.opened(federation) as c:
            command_b = c.mqtt_sink(federation.cluster("b"), "command/x", 1, 1)
            publisher = c.mq(federation.csc)
            result = await clients.deliver(
                "csc mqtt q1 cpc/b/command/x", clients.mqtt_publisher(publisher, "cpc/b/command/x", 1), [command_b, spy]
            )
            return [result]
    finally:
        await attacker.close()


def test_a_rogue_leaf_with_cpc_a_seed_cannot_read_cpc_b_commands_from_the_csc_mqtt_store(
    federation: Federation, rogue_leaf_a: servers.Server
) -> None:
    (result,) = asyncio.run(_eavesdrop_mqtt_store(federation, rogue_leaf_a))
    assert result.ok, result.detail


REDIRECTS = [
    # Into CPC b's commands, as CPC b's leaf receives them from the CSC account.
    "cpc.b.command.x",
    # Into CPC b's stream sourcing (its deliveries cross from SOURCES into the CSC account and on to CPC b).
    "csc2cpc.b.command.x",
    # Into CPC b's JetStream API, which the CSC account reaches through CPC b's leaf.
    "$JS.CPC-b.API.STREAM.DELETE.$MQTT_msgs",
    # Into the JetStream API of SOURCES itself, where the consumer delivers.
    f"$JS.API.STREAM.DELETE.{topology.cpc_source_stream('msgs', 'b')}",
]


async def _redirect_own_source_stream(
    federation: Federation, rogue: servers.Server, deliver_subject: str
) -> tuple[clients.Result, dict[str, list[str]]]:
    """Create a push consumer on CPC a's own source stream (the one consumer its leaf may create) delivering into
    `deliver_subject`, then have the CSC send CPC a a QoS 1 command: CPC a must get it, CPC b nothing."""
    attacker = await nats.connect(rogue.url("client"), user=ROGUE_USER[0], password=ROGUE_USER[1])
    stream = topology.cpc_source_stream("msgs", "a")
    config = {"deliver_subject": deliver_subject, "ack_policy": "none", "deliver_policy": "new"}
    try:
        # No reply can come back (the leaf may not receive _INBOX.>), but the CSC acts on the request.
        await attacker.publish(
            f"{topology.SOURCES_API}.CONSUMER.CREATE.{stream}",
            json.dumps({"stream_name": stream, "config": config}).encode(),
        )
        await attacker.flush()
        async with clients.opened(federation) as c:
            await _wait_for_push_consumer(c, federation, stream, deliver_subject)
            command_b = [await c.sink(federation.cluster("b"), "CPC", "command.x", 0)]
            command_b.append(c.mqtt_sink(federation.cluster("b"), "command/#", 1, 0))
            command_a = c.mqtt_sink(federation.cluster("a"), "command/x", 1, 1)
            publisher = c.mq(federation.csc)
            result = await clients.deliver(
                "csc mqtt q1 cpc/a/command/x",
                clients.mqtt_publisher(publisher, "cpc/a/command/x", 1),
                [command_a, *command_b],
            )
        return result, await _all_streams(federation)
    finally:
        await attacker.close()
        await _delete_push_consumers(federation, stream)


async def _wait_for_push_consumer(c: clients.Clients, federation: Federation, stream: str, subject: str) -> None:
    """The attack's consumer exists (so the test measures its deliveries, not a refused request)."""
    js = (await c.nc(federation.csc, naming.SOURCES)).jsm()

    async def created() -> bool:
        return any(info.config.deliver_subject == subject for info in await js.consumers_info(stream))

    deadline = asyncio.get_running_loop().time() + clients.TIMEOUT
    while not await created():
        assert asyncio.get_running_loop().time() < deadline, f"the leaf could not create a consumer on {stream}"
        await asyncio.sleep(0.05)


async def _all_streams(federation: Federation) -> dict[str, list[str]]:
    """Every stream of the federation, by cluster and account."""
    where = [(federation.csc, "CSC"), (federation.csc, naming.SOURCES), *((cpc, "CPC") for cpc in federation.cpcs)]
    found = {}
    async with clients.opened(federation) as c:
        for cluster, account in where:
            reply = await (await c.nc(cluster, account)).request("$JS.API.STREAM.NAMES", b"{}", timeout=5)
            found[f"{cluster.stack}/{account}"] = sorted(json.loads(reply.data)["streams"])
    return found


async def _delete_push_consumers(federation: Federation, stream: str) -> None:
    """The attack leaves its consumer behind (the leaf may not delete it): remove it. The federation's own stream
    sources create no push consumers outside their `csc2cpc.<id>.` deliver prefixes."""
    async with clients.opened(federation) as c:
        js = (await c.nc(federation.csc, naming.SOURCES)).jsm()
        for consumer in await js.consumers_info(stream):
            if not (consumer.config.deliver_subject or "").startswith("csc2cpc.a."):
                await js.delete_consumer(stream, consumer.name or "")


@pytest.mark.parametrize("deliver_subject", REDIRECTS)
def test_a_rogue_leaf_with_cpc_a_seed_cannot_redirect_its_own_source_stream_beyond_cpc_a(
    federation: Federation, rogue_leaf_a: servers.Server, deliver_subject: str
) -> None:
    before = asyncio.run(_all_streams(federation))
    result, after = asyncio.run(_redirect_own_source_stream(federation, rogue_leaf_a, deliver_subject))
    assert result.ok, result.detail
    assert after == before
