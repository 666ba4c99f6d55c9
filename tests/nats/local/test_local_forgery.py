"""A compromised CPC a forging JetStream deliveries into the CSC's uplink streams, on every supported version.

The CSC sources each CPC's `$MQTT_msgs` / `$MQTT_rmsgs` into `MQTT_<kind>_from_cpc_<id>`, in that CPC's account on
the CSC (`CPC-<id>`, where its leaf lands): the CPC's consumer delivers on `cpc2csc.<id>.S.<random>` across the
leaf, which CPC a's leaf identity must be allowed to publish. The
attacker here controls CPC a's server (it reads the real deliveries there, for the consumer name and sequences)
and dials the CSC's leaf port with CPC a's leaf seed from a leaf node of its own (where the CSC announces the
deliver subjects). nats-server (stream.go `processInboundSourceMsg`) takes a leaf's `$JS.ACK...@<subject>` reply
as a delivery of `<subject>` and stores a subject no transform matches as it came. docs/threat-model.md names
what these tests measure.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import nats
import nats.js.errors
import pytest
from nats.aio.client import Client as Nats
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, SubjectTransform
from natstools import ROGUE_USER, flow_control_request, rogue_leaf_node, sources_flowing

from dsxbus import naming, subjects, topology
from dsxbus.local import clients, runner, servers
from dsxbus.local.state import Federation

FILLER_WAIT = 0.2
"""How long the fillers of a forgery take to reach the CSC and be ignored there (measured: well under 50 ms)."""
SETTLE = 1.0
"""How long the sinks that must get nothing are watched after a forgery (a real uplink delivers in ~50 ms)."""


@pytest.fixture
def rogue_leaf_a(tmp_path: Path, federation: Federation) -> Iterator[servers.Server]:
    """The attacker's leaf node, dialling the CSC's leaf port with CPC a's leaf seed (it lands in CPC-a)."""
    with rogue_leaf_node(tmp_path, federation, federation.keys["cpc-a"].leaf["CSC"].seed) as server:
        servers.wait_for(lambda: len(_deliver_subjects(server)) == 2 or None, 5, "the CSC to announce the uplinks")
        yield server


def _deliver_subjects(rogue: servers.Server) -> list[str]:
    """What the CSC announces to a leaf holding CPC a's seed: the deliver subjects of CPC a's two uplinks."""
    leafz = servers.monitor(rogue, "leafz?subs=1") or {}
    announced = (s for leaf in leafz.get("leafs") or [] for s in leaf.get("subscriptions_list") or [])
    prefix = subjects.upsourcing_deliveries("a").removesuffix(">")
    return sorted(s for s in announced if s.startswith(prefix))


async def _observe_uplinks(c: clients.Clients, federation: Federation, token: str) -> dict[str, Msg]:
    """As CPC a's server admin: one real retained QoS 1 publish, and its delivery to each of the CSC's uplinks."""
    seen: dict[str, Msg] = {}

    async def on_delivery(msg: Msg) -> None:
        for kind in topology.SOURCED_KINDS:
            if (msg.reply or "").startswith(f"$JS.ACK.{topology.mqtt_stream(kind)}."):
                seen[kind] = msg

    admin = await c.nc(federation.cluster("a"), "CPC")
    subscription = await admin.subscribe(subjects.upsourcing_deliveries("a"), cb=on_delivery)
    await admin.flush()
    publisher = c.mq(federation.cluster("a"))
    await asyncio.to_thread(publisher.publish, "sensor/forgery/real", token.encode(), 1, True)
    deadline = asyncio.get_running_loop().time() + clients.TIMEOUT
    while len(seen) < len(topology.SOURCED_KINDS):
        assert asyncio.get_running_loop().time() < deadline, f"CPC a's uplinks delivered only {sorted(seen)}"
        await asyncio.sleep(0.02)
    await subscription.unsubscribe()
    return seen


async def _forge(cpc_a: Nats, kind: str, real: Msg, forgeries: list[tuple[str, bytes]]) -> None:
    """As CPC a's server admin, deliver `forgeries` (subject, payload) to the CSC's uplink that got `real`.

    A client's publish with a `$JS.ACK...@<subject>` reply is refused, so the forgeries come from a JetStream
    consumer of the attacker's own on CPC a: named like the uplink's real consumer (the CSC checks the name),
    pushing to the real deliver subject (CONSUMER.INFO by name tells it), after as many fillers as the real one
    delivered (the CSC takes only the next delivery sequence). Its stream sequences end where CPC a's real stream
    ends, so the uplink's retry (the real heartbeats then name an older delivery) resumes after it, losing nothing.
    """
    js = cpc_a.jsm()
    name = real.reply.split(".")[3]
    uplink = await js.consumer_info(topology.mqtt_stream(kind), name)
    fillers = uplink.delivered.consumer_seq
    for _ in range(len(forgeries) + 1):  # CPC a's own stream must end at or past where the forgeries end
        await cpc_a.jetstream().publish(f"$MQTT.{kind}.forgery.pad", b"")
    last = (await js.stream_info(topology.mqtt_stream(kind))).state.last_seq
    forge = f"FORGE_{kind}"
    await js.add_stream(
        name=forge,
        subjects=[f"forge.{kind}.>"],
        subject_transform=SubjectTransform(src=f"forge.{kind}.>", dest=f"$MQTT.{kind}.>"),
        storage=StorageType.MEMORY,
        first_seq=last - fillers - len(forgeries) + 1,
    )
    try:
        headers = dict(real.headers or {})
        for _ in range(fillers):
            await cpc_a.jetstream().publish(f"forge.{kind}.filler", b"", headers=headers)
        await js.add_consumer(
            forge,
            ConsumerConfig(
                durable_name=name,
                deliver_subject=uplink.config.deliver_subject,
                ack_policy=AckPolicy.NONE,
                deliver_policy=DeliverPolicy.ALL,
            ),
        )
        # The CSC drops the rest of a batch after a delivery it ignores: the fillers go first, on their own.
        await asyncio.sleep(FILLER_WAIT)
        for subject, payload in forgeries:
            await cpc_a.jetstream().publish(
                f"forge.{kind}." + subject.removeprefix(f"$MQTT.{kind}."), payload, headers=headers
            )
        await asyncio.sleep(0.3)
    finally:
        await js.delete_stream(forge)


async def _last_payload(client: Nats, stream: str, subject: str) -> bytes | None:
    try:
        message = await client.jsm().get_last_msg(stream, subject)
    except nats.js.errors.NotFoundError:
        return None
    return message.data


async def _wait_for(sink: clients.Sink, payload: bytes) -> None:
    deadline = asyncio.get_running_loop().time() + clients.TIMEOUT
    while not sink.count(payload):
        assert asyncio.get_running_loop().time() < deadline, f"{sink.label} never got {payload!r}: {sink.got}"
        await asyncio.sleep(0.02)


MSGS_FORGERIES = {
    # (a) CPC b's telemetry, to the CSC's QoS 1 subscribers of cpc/b/#.
    "impersonate-b": "$MQTT.msgs.cpc.b.sensor.x",
    # (b) a topic of the CSC's own, outside every cpc/<id>/ prefix.
    "csc-own": "$MQTT.msgs.command.x",
    # (d) a QoS 1 command for CPC b: in the CSC's $MQTT_msgs, CPC b's source stream would carry it to CPC b.
    "command-b": "$MQTT.msgs.cpc.b.command.x",
}


async def _forge_qos1(federation: Federation) -> dict[str, object]:
    token = f"forged-{secrets.token_hex(4)}"
    payload = {name: f"{token}-{name}".encode() for name in [*MSGS_FORGERIES, "own"]}
    async with clients.opened(federation) as c:
        own = c.mqtt_sink(federation.csc, "cpc/a/sensor/forged", 1, 1)
        victims = [
            c.mqtt_sink(federation.csc, "cpc/b/#", 1, 0),
            c.mqtt_sink(federation.csc, "command/#", 1, 0),
            c.mqtt_sink(federation.cluster("b"), "command/#", 1, 0),
            c.mqtt_sink(federation.cluster("b"), "sensor/#", 1, 0),
        ]
        real = (await _observe_uplinks(c, federation, token))["msgs"]
        cpc_a = await c.nc(federation.cluster("a"), "CPC")
        # Positive control last: CPC a's own namespace, which the CSC's filter lets through.
        forgeries = [(subject, payload[name]) for name, subject in MSGS_FORGERIES.items()]
        await _forge(cpc_a, "msgs", real, [*forgeries, ("$MQTT.msgs.cpc.a.sensor.forged", payload["own"])])
        await _wait_for(own, payload["own"])
        await asyncio.sleep(SETTLE)
        csc = await c.nc(federation.csc, "CSC")
        cpc_a_on_csc = await c.nc(federation.csc, naming.cpc_account("a"))
        cpc_b = await c.nc(federation.cluster("b"), "CPC")
        uplink = topology.cpc_uplink_stream("msgs", "a")
        return {
            "stored in the uplink": [await _last_payload(cpc_a_on_csc, uplink, s) for s, _ in forgeries],
            "forged payloads": [p for _, p in forgeries],
            # Other modules may have left real messages on these subjects: only a forged payload counts.
            "in the CSC's $MQTT_msgs": [
                p
                for p in [await _last_payload(csc, "$MQTT_msgs", s) for s, _ in forgeries]
                if p in dict(forgeries).values()
            ],
            "in CPC b's $MQTT_msgs": await _last_payload(cpc_b, "$MQTT_msgs", "$MQTT.msgs.command.x"),
            "victims got": [d for sink in victims for d in sink.got if d.payload.startswith(token.encode())],
            "afterwards": await _still_uplinked(c, federation),
        }


async def _still_uplinked(c: clients.Clients, federation: Federation) -> clients.Result:
    """CPC a's real QoS 1 telemetry still reaches the CSC once the forgery is over (the uplink retried)."""
    sink = c.mqtt_sink(federation.csc, "cpc/a/sensor/forgery/after", 1, 1)
    publisher = c.mq(federation.cluster("a"))
    return await clients.deliver(
        "cpc-a q1 sensor/forgery/after", clients.mqtt_publisher(publisher, "sensor/forgery/after", 1), [sink]
    )


def test_a_forged_uplink_delivery_outside_cpc_a_namespace_is_stored_but_reaches_no_csc_or_cpc_b_subscriber(
    federation: Federation,
) -> None:
    """Impersonating CPC b, a CSC topic and a command for CPC b: the uplink stores each forgery as it came (the
    attack worked that far), the CSC's `$MQTT_msgs` takes none of them, and no subscriber on the CSC or CPC b gets
    one, while a forgery in CPC a's own namespace reaches the CSC's QoS 1 subscriber of cpc/a/sensor/forged."""
    found = asyncio.run(_forge_qos1(federation))
    assert found["stored in the uplink"] == found["forged payloads"]
    assert found["in the CSC's $MQTT_msgs"] == []
    assert found["in CPC b's $MQTT_msgs"] not in found["forged payloads"]  # type: ignore[operator]
    assert found["victims got"] == []
    assert found["afterwards"].ok, found["afterwards"].detail  # type: ignore[attr-defined]


RMSGS_FORGERIES = {
    # (c) a retained message under CPC b's prefix on the CSC.
    "retained-b": "$MQTT.rmsgs.cpc.b.sensor.forged",
    # (d) a retained command for CPC b (CPC b's source stream would carry it there as command/x).
    "retained-command-b": "$MQTT.rmsgs.cpc.b.command.x",
}


async def _forge_retained(federation: Federation) -> dict[str, object]:
    token = f"forged-{secrets.token_hex(4)}"
    payload = {name: f"{token}-{name}".encode() for name in [*RMSGS_FORGERIES, "own"]}
    async with clients.opened(federation) as c:
        real = (await _observe_uplinks(c, federation, token))["rmsgs"]
        cpc_a = await c.nc(federation.cluster("a"), "CPC")
        forgeries = [(subject, payload[name]) for name, subject in RMSGS_FORGERIES.items()]
        own = ("$MQTT.rmsgs.cpc.a.sensor.forgery.retained", payload["own"])
        await _forge(cpc_a, "rmsgs", real, [*forgeries, own])
        # Subscribers that come after the forgery: a retained message is what a new subscriber gets.
        own_sink = c.mqtt_sink(federation.csc, "cpc/a/sensor/forgery/retained", 1, 1)
        await _wait_for(own_sink, payload["own"])
        victims = [c.mqtt_sink(federation.csc, "cpc/b/#", 1, 0), c.mqtt_sink(federation.cluster("b"), "#", 1, 0)]
        await asyncio.sleep(SETTLE)
        csc = await c.nc(federation.csc, "CSC")
        cpc_a_on_csc = await c.nc(federation.csc, naming.cpc_account("a"))
        cpc_b = await c.nc(federation.cluster("b"), "CPC")
        uplink = topology.cpc_uplink_stream("rmsgs", "a")
        return {
            "own is retained": [d.retain for d in own_sink.got if d.payload == payload["own"]],
            "stored in the uplink": [await _last_payload(cpc_a_on_csc, uplink, s) for s, _ in forgeries],
            "forged payloads": [p for _, p in forgeries],
            # Other modules may have left real messages on these subjects: only a forged payload counts.
            "in the CSC's $MQTT_rmsgs": [
                p
                for p in [await _last_payload(csc, "$MQTT_rmsgs", s) for s, _ in forgeries]
                if p in dict(forgeries).values()
            ],
            "in CPC b's $MQTT_rmsgs": await _last_payload(cpc_b, "$MQTT_rmsgs", "$MQTT.rmsgs.command.x"),
            "victims got": [d for sink in victims for d in sink.got if d.payload.startswith(token.encode())],
        }


def test_a_forged_retained_message_outside_cpc_a_namespace_is_stored_but_retained_nowhere(
    federation: Federation,
) -> None:
    """A retained message under CPC b's prefix, and a retained command for CPC b: stored in CPC a's uplink as they
    came, in neither `$MQTT_rmsgs`, and no new subscriber on the CSC (cpc/b/#) or CPC b (#) gets one, while a
    forgery in CPC a's own namespace is retained for a new CSC subscriber."""
    found = asyncio.run(_forge_retained(federation))
    assert found["own is retained"] == [True]
    assert found["stored in the uplink"] == found["forged payloads"]
    assert found["in the CSC's $MQTT_rmsgs"] == []
    assert found["in CPC b's $MQTT_rmsgs"] not in found["forged payloads"]  # type: ignore[operator]
    assert found["victims got"] == []


PROBE = "FORGERY_PROBE"
"""A stream of the test's own, on the CSC (its CSC account and CPC a's account there) and on CPC b, for a forged
request to delete."""


async def _forge_flow_control(federation: Federation, rogue: servers.Server, target: str) -> dict[str, object]:
    async with clients.opened(federation) as c:
        csc = await c.nc(federation.csc, naming.CSC)
        cpc_a_on_csc = await c.nc(federation.csc, naming.cpc_account("a"))
        cpc_b = await c.nc(federation.cluster("b"), "CPC")
        probed = (csc, cpc_b, cpc_a_on_csc)
        for client in probed:
            await client.jsm().add_stream(name=PROBE, subjects=["forgery.probe"], storage=StorageType.MEMORY)
        commands_b = await c.sink(federation.cluster("b"), "CPC", "command.forgery", 0)
        own_on_csc = await c.sink(federation.csc, naming.CSC, "cpc.a.sensor.forgery", 0)
        await asyncio.sleep(0.2)  # CPC b's interest crosses its leaf
        try:
            # One of CPC a's two uplinks is enough (each would answer once).
            flow_control_request(rogue, _deliver_subjects(rogue)[0], target)
            await asyncio.sleep(SETTLE)
            return {
                "CPC b got": [d.payload for d in commands_b.got],
                "the CSC got": [d.payload for d in own_on_csc.got],
                "probe streams": [
                    any(info.config.name == PROBE for info in await client.jsm().streams_info()) for client in probed
                ],
            }
        finally:
            for client in probed:
                with contextlib.suppress(nats.js.errors.NotFoundError):
                    await client.jsm().delete_stream(PROBE)


@pytest.mark.parametrize(
    ("target", "cpc_b_got", "csc_got", "probe_streams"),
    [
        # A command for CPC b (empty): CPC a's account has no route to CPC b.
        ("cpc.b.command.forgery", [], [], [True, True, True]),
        # The JetStream API of the account the uplink answers in: CPC a's own account on the CSC, not the CSC's.
        (f"$JS.API.STREAM.DELETE.{PROBE}", [], [], [True, True, False]),
        # CPC b's JetStream API: only the CSC account reached it, through CPC b's leaf.
        (f"$JS.CPC-b.API.STREAM.DELETE.{PROBE}", [], [], [True, True, True]),
        # Control: the forgery still works, within CPC a's own namespace (what CPC a may publish anyway).
        ("cpc.a.sensor.forgery", [], [b""], [True, True, True]),
    ],
    ids=["cpc-b-command", "jetstream-api", "cpc-b-jetstream-api", "own-namespace"],
)
def test_a_forged_flow_control_request_on_cpc_a_uplink_is_answered_only_inside_cpc_a_account(
    federation: Federation,
    rogue_leaf_a: servers.Server,
    target: str,
    cpc_b_got: list[bytes],
    csc_got: list[bytes],
    probe_streams: list[bool],
) -> None:
    """Hole A, closed by the accounts (docs/threat-model.md): nats-server still answers a flow control request on a
    source's deliver subject without checking that it comes from the source's consumer, by publishing an empty
    message on the request's reply subject in the sourcing stream's account. CPC a's uplinks are in CPC a's
    account on the CSC, so the empty message reaches only what that account reaches: not CPC b's commands, not
    the CSC's or CPC b's JetStream (with uplinks in the CSC account, each of these worked), only CPC a's own
    JetStream there and its own `cpc.a.` namespace (the control shows the forgery itself still fires)."""
    found = asyncio.run(_forge_flow_control(federation, rogue_leaf_a, target))
    assert found == {"CPC b got": cpc_b_got, "the CSC got": csc_got, "probe streams": probe_streams}


@pytest.fixture(scope="module")
def cut_federation(
    tmp_path_factory: pytest.TempPathFactory, make_project: Callable[[Path], Path], nats_version: str
) -> Iterator[Federation]:
    """Its own federation (CSC, CPC a, CPC b): the test below stops CPC b and cuts its uplinks for good."""
    root = tmp_path_factory.mktemp("forgery")
    project = make_project(root / "project")
    with runner.running_federation(project, root / "run", ["csc", "cpc-a", "cpc-b"], say=lambda _: None) as running:
        yield running


CUT_AT = 1_000_000
"""The stream sequence a forged consumer-create answer claims was delivered: the uplink resumes after it."""


def _reply_subjects(rogue: servers.Server) -> set[str]:
    """The `$JSC.R.` replies the CSC announces to a leaf holding CPC a's seed (it may publish them)."""
    leafz = servers.monitor(rogue, "leafz?subs=1") or {}
    announced = (s for leaf in leafz.get("leafs") or [] for s in leaf.get("subscriptions_list") or [])
    return {s for s in announced if s.startswith("$JSC.R.")}


async def _answer(rogue: servers.Server, replies: set[str]) -> None:
    forged = {
        "type": "io.nats.jetstream.api.v1.consumer_create_response",
        "stream_name": "$MQTT_msgs",
        "name": "forged",
        "created": "2026-01-01T00:00:00Z",
        "config": {"ack_policy": "none"},
        "delivered": {"consumer_seq": 0, "stream_seq": CUT_AT},
        "ack_floor": {"consumer_seq": 0, "stream_seq": 0},
        "num_ack_pending": 0,
        "num_redelivered": 0,
        "num_waiting": 0,
        "num_pending": 0,
    }
    attacker = await nats.connect(rogue.url("client"), user=ROGUE_USER[0], password=ROGUE_USER[1])
    try:
        for reply in replies:
            await attacker.publish(reply, json.dumps(forged).encode())
        await attacker.flush()
    finally:
        await attacker.close()


async def _after_the_cut(federation: Federation, token: str) -> dict[str, object]:
    async with clients.opened(federation) as c:
        victim = c.mqtt_sink(federation.csc, "cpc/b/#", 1, 3)
        publisher = c.mq(federation.cluster("b"))
        for n in range(3):
            await asyncio.to_thread(publisher.publish, f"sensor/cut/{n}", f"{token}-{n}".encode(), 1, True)
        # Positive control: the CSC and its uplinks otherwise work (CPC a's QoS 1 telemetry arrives).
        own = c.mqtt_sink(federation.csc, "cpc/a/sensor/cut", 1, 1)
        cpc_a = clients.mqtt_publisher(c.mq(federation.cluster("a")), "sensor/cut", 1)
        control = await clients.deliver("cpc-a q1 sensor/cut", cpc_a, [own])
        await asyncio.sleep(CUT_WATCH)
        return {
            "control": control.ok,
            "the CSC's cpc/b/# got": sorted(d.payload for d in victim.got if d.payload.startswith(token.encode())),
        }


CUT_WATCH = 3.0
"""How long CPC b's messages are given to reach the CSC after it resumes (unharmed, they take ~50 ms; cut by a
forged answer, measured with uplinks in the CSC account: none arrived within 60 s)."""


async def _pending_requests(federation: Federation, seen: set[str]) -> Nats:
    """As the CSC's admin in CPC b's account: the reply subjects of the consumer creations the CSC's uplinks ask of
    CPC b (`$JSC.R.<random>`), as an attacker who somehow learnt them would answer them."""
    client = await clients.nats_connect(federation.csc, federation, naming.cpc_account("b"))

    async def on_request(msg: Msg) -> None:
        if msg.reply.startswith("$JSC.R."):
            seen.add(msg.reply)

    await client.subscribe(f"{subjects.cpc_jetstream_api('b').removesuffix('.>')}.CONSUMER.CREATE.>", cb=on_request)
    await client.flush()
    return client


def test_a_forged_consumer_create_answer_from_cpc_a_leaf_never_reaches_cpc_b_uplinks(
    tmp_path: Path, cut_federation: Federation
) -> None:
    """Hole B, closed by the accounts (docs/threat-model.md): the CSC's uplinks for CPC b wait for their
    consumer-create answers on `$JSC.R.<random>` in CPC b's account. While CPC b does not answer (its server paused
    until the uplinks' health check asks again), the CSC announces none of those replies to a leaf holding CPC a's
    seed, and answers published there with the very reply subjects (learnt here from CPC b's account) claiming
    CUT_AT delivered land in CPC a's account: once CPC b resumes, its QoS 1 messages reach the CSC. With the
    uplinks in the CSC account, the same answers cut CPC b's uplinks for good."""
    federation = cut_federation
    cpc_b = federation.cluster("b").main
    token = f"cut-{secrets.token_hex(4)}"
    seen: set[str] = set()
    with rogue_leaf_node(tmp_path, federation, federation.keys["cpc-a"].leaf["CSC"].seed) as rogue:
        servers.wait_for(lambda: servers.leaf_count(rogue) or None, 5, "the rogue leaf to connect")
        announced: set[str] = set()
        loop = asyncio.new_event_loop()
        try:
            client = loop.run_until_complete(_pending_requests(federation, seen))
            os.kill(cpc_b.pid, signal.SIGSTOP)
            try:

                def asked() -> bool | None:
                    loop.run_until_complete(asyncio.sleep(0.1))
                    announced.update(_reply_subjects(rogue))
                    return len(seen) >= len(topology.SOURCED_KINDS) or None

                servers.wait_for(asked, 30, "the CSC to ask paused CPC b for new uplink consumers")
                announced.update(_reply_subjects(rogue))
                asyncio.run(_answer(rogue, seen))
            finally:
                os.kill(cpc_b.pid, signal.SIGCONT)
            loop.run_until_complete(client.close())
        finally:
            loop.close()
        found = asyncio.run(_after_the_cut(federation, token))
    assert announced.isdisjoint(seen), "the CSC announced CPC b's pending replies to CPC a's leaf"
    assert found["control"] is True
    assert found["the CSC's cpc/b/# got"] == [f"{token}-{n}".encode() for n in range(3)], found


async def _replies_heard(rogue: servers.Server, during: Callable[[], None]) -> set[str]:
    """The streams named by the service-import replies (`_R_.`, JetStream answers) the CSC sends a leaf holding CPC
    a's seed while `during` runs."""
    heard: set[str] = set()

    async def on_reply(msg: Msg) -> None:
        with contextlib.suppress(ValueError):
            heard.add(str(json.loads(msg.data).get("stream_name")))

    attacker = await nats.connect(rogue.url("client"), user=ROGUE_USER[0], password=ROGUE_USER[1])
    try:
        await attacker.subscribe("_R_.>", cb=on_reply)
        await attacker.flush()
        await asyncio.sleep(0.3)  # the interest crosses the rogue's leaf
        await asyncio.to_thread(during)
        await asyncio.sleep(SETTLE)
        return heard
    finally:
        await attacker.close()


def test_a_leaf_holding_cpc_a_seed_hears_no_answer_to_cpc_b_stream_sources(
    tmp_path: Path, cut_federation: Federation
) -> None:
    """The `_R_.` replies of service imports are per account: the consumers CPC b's stream sources re-create on the
    CSC (CPC b restarted) are answered in CPC b's account only, while CPC a's own (the control) reach a leaf with
    CPC a's seed, which its grant lets subscribe to `_R_.>`. With every leaf in the CSC account, it heard every
    CPC's."""
    federation = cut_federation

    def restart(stack: str) -> Callable[[], None]:
        def run() -> None:
            runner.restart(federation, stack)
            flowing = partial(sources_flowing, federation, federation.clusters[stack], "CPC", "$MQTT_msgs")
            servers.wait_for(flowing, 60, f"{stack}'s stream sources to flow again")

        return run

    with rogue_leaf_node(tmp_path, federation, federation.keys["cpc-a"].leaf["CSC"].seed) as rogue:
        servers.wait_for(lambda: servers.leaf_count(rogue) or None, 5, "the rogue leaf to connect")
        of_b = asyncio.run(_replies_heard(rogue, restart("cpc-b")))
        of_a = asyncio.run(_replies_heard(rogue, restart("cpc-a")))
    # What a leaf in CPC a's account hears are answers about CPC a's streams (its connection re-creates some).
    assert not (of_b | of_a) & {topology.cpc_source_stream(k, "b") for k in topology.SOURCED_KINDS}, of_b
    assert {topology.cpc_source_stream(k, "a") for k in topology.SOURCED_KINDS} <= of_a, of_a
