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
from natstools import ROGUE_USER, leaf_seed_client, rogue_leaf_node

from dsxbus import topology
from dsxbus.local import check, runner, servers
from dsxbus.local.check import Sink

REPLY_WAIT = 1.0
"""A request the CSC refuses gets no reply at all: wait this long for one that must not come."""


async def _refused_request(federation: runner.Federation, subject: str, body: dict[str, Any]) -> tuple[bool, bool]:
    """(no reply came, the server named the publish a permissions violation)."""
    async with leaf_seed_client(federation, "cpc-a") as (client, errors):
        try:
            await client.request(subject, json.dumps(body).encode(), timeout=REPLY_WAIT)
            answered = True
        except nats.errors.TimeoutError:
            answered = False
        await client.flush()
        await asyncio.sleep(0.1)
        # nats-server maps `$JS.CSC.API.` to this domain's `$JS.API.` before it checks, and names the mapped subject.
        mapped = subject.replace("$JS.CSC.API.", "$JS.API.", 1)
        return not answered, errors.refused("publish", subject, mapped)


async def _stream_names(federation: runner.Federation) -> list[str]:
    async with check.clients(federation) as c:
        admin = await c.nc(federation.csc, "CSC")
        reply = await admin.request("$JS.API.STREAM.NAMES", b"{}", timeout=5)
        names: list[str] = json.loads(reply.data)["streams"]
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
            f"$JS.CSC.API.CONSUMER.CREATE.{topology.cpc_source_stream('msgs', 'b')}",
            {"stream_name": topology.cpc_source_stream("msgs", "b"), "config": {"ack_policy": "none"}},
        ),
        ("$KV.anything.key", {}),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_cpc_a_leaf_seed_reaches_no_jetstream_api_beyond_its_own_source_streams(
    federation: runner.Federation, subject: str, body: dict[str, Any]
) -> None:
    before = asyncio.run(_stream_names(federation))
    _assert_refused(asyncio.run(_refused_request(federation, subject, body)))
    assert sorted(asyncio.run(_stream_names(federation))) == sorted(before)


async def _subscribe_refused(federation: runner.Federation, subject: str) -> bool:
    async with leaf_seed_client(federation, "cpc-a") as (client, errors):
        await client.subscribe(subject)
        await client.flush()
        await asyncio.sleep(0.2)
        return errors.refused("subscription", subject)


@pytest.mark.parametrize("subject", ["_INBOX.>", "$MQTT.msgs.>", "$JS.FC.>", "cpc.b.>", "csc2cpc.b.>", ">"])
def test_cpc_a_leaf_seed_may_not_listen_beyond_its_own_cpc(federation: runner.Federation, subject: str) -> None:
    assert asyncio.run(_subscribe_refused(federation, subject))


@pytest.fixture
def rogue_leaf_a(tmp_path: Path, federation: runner.Federation) -> Iterator[servers.Server]:
    """A leaf node of the attacker's own, dialling the CSC's leaf port with CPC a's leaf seed into account CSC."""
    with rogue_leaf_node(tmp_path, federation, federation.keys["cpc-a"].leaf["CSC"].seed) as server:
        servers.wait_for(lambda: servers.leaf_count(server) or None, 5, "the rogue leaf to connect")
        yield server


async def _forge_mqtt_store(federation: runner.Federation, rogue: servers.Server) -> list[check.Result]:
    """Publish into the CSC's MQTT store through the leaf: nats-server lets leafs pass `$MQTT.` subjects
    without checking allow lists (only deny lists), so this is the path an allow list alone leaves open."""
    attacker = await nats.connect(rogue.url("client"), user=ROGUE_USER[0], password=ROGUE_USER[1])
    try:
        async with check.clients(federation) as c:
            store = await c.sink(federation.csc, "CSC", "$MQTT.msgs.>", 0)
            own = await c.sink(federation.csc, "CSC", "cpc.a.probe", 1)
            # Positive control: the leaf carries what CPC a may send, so interest has crossed.
            allowed = await check.deliver(
                "rogue leaf a -> cpc.a.probe", check._nats_publisher(attacker, "cpc.a.probe"), [own]
            )
            forged = await check.deliver(
                "rogue leaf a -> $MQTT.msgs.cpc.b.command.x",
                check._nats_publisher(attacker, "$MQTT.msgs.cpc.b.command.x"),
                [store],
            )
            return [allowed, forged]
    finally:
        await attacker.close()


def test_a_rogue_leaf_with_cpc_a_seed_cannot_write_into_the_csc_mqtt_store(
    federation: runner.Federation, rogue_leaf_a: servers.Server
) -> None:
    allowed, forged = asyncio.run(_forge_mqtt_store(federation, rogue_leaf_a))
    assert allowed.ok, allowed.detail
    assert forged.ok, forged.detail


async def _eavesdrop_mqtt_store(federation: runner.Federation, rogue: servers.Server) -> list[check.Result]:
    attacker = await nats.connect(rogue.url("client"), user=ROGUE_USER[0], password=ROGUE_USER[1])
    try:
        spy = Sink("rogue leaf a $MQTT.msgs.>", 0)

        async def on_message(msg: Any) -> None:
            spy.got.append(check.Delivery(msg.subject, msg.data))

        await attacker.subscribe("$MQTT.msgs.>", cb=on_message)
        await attacker.flush()
        async with check.clients(federation) as c:
            command_b = c.mqtt_sink(federation.cluster("b"), "command/x", 1, 1)
            publisher = c.mq(federation.csc)
            result = await check.deliver(
                "csc mqtt q1 cpc/b/command/x", check._mqtt_publisher(publisher, "cpc/b/command/x", 1), [command_b, spy]
            )
            return [result]
    finally:
        await attacker.close()


def test_a_rogue_leaf_with_cpc_a_seed_cannot_read_cpc_b_commands_from_the_csc_mqtt_store(
    federation: runner.Federation, rogue_leaf_a: servers.Server
) -> None:
    (result,) = asyncio.run(_eavesdrop_mqtt_store(federation, rogue_leaf_a))
    assert result.ok, result.detail


async def _redirect_own_source_stream(federation: runner.Federation, rogue: servers.Server) -> check.Result:
    """Create a push consumer on CPC a's own source stream that delivers into CPC b's command subjects."""
    attacker = await nats.connect(rogue.url("client"), user=ROGUE_USER[0], password=ROGUE_USER[1])
    stream = topology.cpc_source_stream("msgs", "a")
    config = {"deliver_subject": "cpc.b.command.x", "ack_policy": "none", "deliver_policy": "new"}
    try:
        # No reply can come back (the leaf may not receive _INBOX.>), but the CSC acts on the request.
        await attacker.publish(
            f"$JS.CSC.API.CONSUMER.CREATE.{stream}", json.dumps({"stream_name": stream, "config": config}).encode()
        )
        await attacker.flush()
        async with check.clients(federation) as c:
            command_b = await c.sink(federation.cluster("b"), "CPC", "command.x", 0)
            command_a = c.mqtt_sink(federation.cluster("a"), "command/x", 1, 1)
            publisher = c.mq(federation.csc)
            return await check.deliver(
                "csc mqtt q1 cpc/a/command/x",
                check._mqtt_publisher(publisher, "cpc/a/command/x", 1),
                [command_a, command_b],
            )
    finally:
        await attacker.close()
        await _delete_push_consumers(federation, stream)


async def _delete_push_consumers(federation: runner.Federation, stream: str) -> None:
    """The attack leaves its consumer behind (the leaf may not delete it): remove it so no later test sees CPC b
    receive CPC a's commands. The CSC's own sources create no push consumers with a `cpc.` deliver subject."""
    async with check.clients(federation) as c:
        js = (await c.nc(federation.csc, "CSC")).jsm()
        for consumer in await js.consumers_info(stream):
            if (consumer.config.deliver_subject or "").startswith("cpc."):
                await js.delete_consumer(stream, consumer.name or "")


@pytest.mark.xfail(
    strict=True,
    reason="known gap (docs/threat-model.md): JetStream lets whoever creates a push consumer choose its deliver "
    "subject, so CPC a's leaf can forward what the CSC sends CPC a into CPC b's command subjects; closing it needs "
    "the per-CPC source streams in an account of their own on the CSC",
)
def test_a_rogue_leaf_with_cpc_a_seed_cannot_redirect_its_own_source_stream_into_cpc_b(
    federation: runner.Federation, rogue_leaf_a: servers.Server
) -> None:
    result = asyncio.run(_redirect_own_source_stream(federation, rogue_leaf_a))
    assert result.ok, result.detail
