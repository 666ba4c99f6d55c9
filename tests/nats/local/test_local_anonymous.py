"""Anonymous clients (`auth.permissions.noauth`) attacking the bus, on a real local federation, on every supported
nats-server version.

Locally, an MQTT client without credentials becomes the static user `noauth` (`mqtt.no_auth_user`), which holds
exactly the permissions the auth-callout gives anonymous clients. A NATS client without credentials is refused
(`no_auth_user` is set in mqtt{} only), so the NATS attacks sign in as that same user with its password: the
permission set an anonymous NATS client gets from the auth-callout upstream.

Measured before the hardening: anonymous MQTT on a CPC had the whole CPC account, so through its import of the
CSC's JetStream API it deleted a CSC stream, made CPC b receive a command through a republish stream and read CPC
b's telemetry through another; anonymous MQTT on the CSC published `cpc/b/command/x` and CPC b received it at QoS 0
and QoS 1.

Every attack comes with positive controls. The anonymous client's own allowed path works through the same
connection (a refused connection would make every attack "fail"). The subscribers that must get nothing of the
attack each get a control before it (they are live, interest has crossed the leafs) and after it (whatever the
attack put on the control's path, a JetStream store or stream source included, arrives before that control), and
they may get nothing but their own control. A refused MQTT publish gets no answer in MQTT 3.1.1 (QoS 1 is
acknowledged all the same), so there the server's log, which names the client ID and the subject of every publish
and subscription violation, is the server's report.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

import nats
import nats.errors
import pytest
from nats.aio.client import Client as Nats
from nats.aio.msg import Msg
from natstools import ServerErrors

from dsxbus import naming, topology
from dsxbus.local import clients
from dsxbus.local.clients import Mqtt, Publish, Result, Sink
from dsxbus.local.plan import NOAUTH_USER
from dsxbus.local.state import Federation, LocalCluster

SETTLE = 0.1
"""How long a JetStream API request takes to act (a stream or consumer to exist) on loopback, had it been taken."""
AFTER = 0.1
"""How long the watched subscribers are still watched once the controls after an attack have reached them all:
what the attack put on a control's path arrived before that control, and a republish or push consumer acts within
milliseconds."""

Attack = Callable[[bytes], Awaitable[None]]

SOURCE_A = topology.cpc_source_stream("msgs", "a")
SOURCE_B = topology.cpc_source_stream("msgs", "b")
SOURCES_TOPIC = topology.SOURCES_API.replace(".", "/")
"""The per-CPC source streams' consumer creation (in the SOURCES account), as an MQTT topic."""


def _republishing(name: str, source: str, dest: str) -> dict[str, Any]:
    """A stream an attacker would create: it captures `source` and republishes it as `dest`."""
    return {"name": name, "subjects": [source], "storage": "memory", "republish": {"src": source, "dest": dest}}


# Anonymous CSC clients may publish test.>: a stream on it that republishes into CPC b's commands.
RELAY_CSC = _republishing("RELAY", "test.relay.>", "cpc.b.command.>")
# Anonymous CPC a clients may publish sensor.>, which reaches the CSC as cpc.a.sensor.>: the same relay.
RELAY_FROM_A = _republishing("RELAY", "cpc.a.sensor.relay.>", "cpc.b.command.>")
# On CPC a's own JetStream: its telemetry republished into its own commands (what Sveltos there obeys).
RELAY_LOCAL = _republishing("RELAY", "sensor.relay.>", "command.>")
# Everything of CPC b on the CSC (its telemetry, its commands), republished where CPC a's anonymous clients read.
SPY_B = _republishing("SPY", "cpc.b.>", "cpc.a.command.spy.>")

REDIRECT_A = {
    # A push consumer on CPC a's own source stream that delivers what the CSC sends CPC a into CPC b's commands.
    "stream_name": SOURCE_A,
    "config": {"deliver_subject": "cpc.b.command.x", "ack_policy": "none", "deliver_policy": "new"},
}
SNOOP_B = {
    # A push consumer on CPC b's source stream that delivers CPC b's commands to CPC a.
    "stream_name": SOURCE_B,
    "config": {"deliver_subject": "cpc.a.command.spy.snoop", "ack_policy": "none", "deliver_policy": "new"},
}


def _body(config: dict[str, Any]) -> bytes:
    return json.dumps(config).encode()


def _checked(subject: str) -> tuple[str, str]:
    """The subject, and the one nats-server checks (and names) if the subject is in its own JetStream domain."""
    return subject, subject.replace("$JS.CSC.API.", "$JS.API.", 1).replace("$JS.CPC.API.", "$JS.API.", 1)


def _subject(topic_name: str) -> str:
    return topic_name.replace("/", ".").replace("#", ">").replace("+", "*")


# ---- clients --------------------------------------------------------------------------------------------


class _Anonymous(Mqtt):
    """An MQTT client without credentials, with a client ID of its own to find in the server's log."""

    def __init__(self, cluster: LocalCluster) -> None:
        self.cluster = cluster
        self.client_id = f"anon-{cluster.stack}-{secrets.token_hex(4)}"
        super().__init__(cluster.main.ports["mqtt"], client_id=self.client_id)

    def _logged(self, kind: str, subject: str) -> bool:
        log = self.cluster.main.log.read_text(errors="replace")
        return any(f'"{self.client_id}" - {kind} Violation - Subject "{s}"' in log for s in _checked(subject))

    async def refused(self, subject: str, kind: str = "Publish") -> bool:
        """The server logged this client's publish (or subscription) of `subject` as a violation."""
        deadline = time.monotonic() + clients.TIMEOUT
        while not self._logged(kind, subject):
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.02)
        return True

    def attack(self, topic_name: str, qos: int = 1, body: bytes | None = None) -> Attack:
        """Publish `body` (None: the attack's token) on `topic_name`."""

        async def publish(token: bytes) -> None:
            await asyncio.to_thread(self.publish, topic_name, token if body is None else body, qos)

        return publish


@contextmanager
def _anonymous(cluster: LocalCluster) -> Iterator[_Anonymous]:
    client = _Anonymous(cluster)
    client.connect()  # raises if the broker refuses a client without credentials
    try:
        yield client
    finally:
        client.close()


@asynccontextmanager
async def _noauth_nats(federation: Federation, cluster: LocalCluster) -> AsyncIterator[tuple[Nats, ServerErrors]]:
    """A NATS client with the noauth user's own credentials: the permissions anonymous clients get."""
    errors = ServerErrors()
    client = await nats.connect(
        cluster.main.url("client"),
        user=NOAUTH_USER,
        password=federation.keys[cluster.stack].noauth_password,
        error_cb=errors.callback,
        connect_timeout=5,
        allow_reconnect=False,
    )
    try:
        yield client, errors
    finally:
        await client.close()


def _domain(cluster: LocalCluster) -> str:
    return "CSC" if cluster.role == "csc" else "CPC"


# ---- controls -------------------------------------------------------------------------------------------


async def _reaches(name: str, publish: Publish, sinks: Sequence[Sink], token: bytes | None = None) -> Result:
    """Publish tagged probes until every sink has one (no grace: for controls that only must arrive)."""
    token = token or f"{name}|{secrets.token_hex(4)}".encode()
    deadline = time.monotonic() + clients.TIMEOUT
    probe = 0
    while not all(s.tagged(token) for s in sinks):
        if time.monotonic() > deadline:
            missing = ", ".join(s.label for s in sinks if not s.tagged(token))
            return Result(name, False, f"nothing reached {missing} within {clients.TIMEOUT:g} s")
        await publish(token + b"|" + str(probe).encode())
        probe += 1
        await asyncio.sleep(0.02)
    return Result(name, True, "")


@dataclass
class _Watch:
    """Subscribers an attack must not reach, and the control that reaches them all: all they may get."""

    label: str
    control: Publish
    sinks: list[Sink]
    lenient: tuple[Sink, ...] = ()
    """Sinks that also see other watches' controls: only the attack's token counts as a leak there."""

    def leaks(self, token: bytes) -> list[str]:
        own = self.label.encode() + b"|"
        found = []
        for sink in self.sinks:
            strict = not any(sink is lenient for lenient in self.lenient)
            for d in sink.got:
                # Retained messages a subscription is given come from earlier publishers, not from the attack.
                if not d.retain and (token in d.payload or (strict and not d.payload.startswith(own))):
                    found.append(f"{sink.label} got {d.subject}: {d.payload[:80]!r}")
        return found


async def _guarded(name: str, attack: Attack, watches: Sequence[_Watch]) -> tuple[Result, list[str]]:
    """Controls, attack, controls: every watched subscriber is live before the attack, and whatever the attack put
    on a control's path has arrived when that control has again. Returns how the controls went, and what the
    watched subscribers got besides their controls."""

    async def controls(phase: str) -> Result:
        results = await asyncio.gather(*(_reaches(f"{w.label}|{phase}", w.control, w.sinks) for w in watches))
        return next((r for r in results if not r.ok), Result(f"{name}: controls {phase}", True, ""))

    before = await controls("before")
    if not before.ok:
        return before, []
    token = f"attack|{name}|{secrets.token_hex(4)}".encode()
    await attack(token)
    after = await controls("after")
    await asyncio.sleep(AFTER)
    return after, [leak for w in watches for leak in w.leaks(token)]


async def _command_watches(c: clients.Clients, federation: Federation) -> dict[str, _Watch]:
    """What the CSC sends each CPC, watched where an attack would deliver it.

    `b`: CPC b's commands, in core NATS (a literal subscriber too: a push consumer only sees literal interest) and
    at MQTT QoS 1 (through the CSC's `$MQTT_msgs` and its stream sources), and the CSC's MQTT store.
    `a`: CPC a's commands (what a consumer redirecting CPC a's source stream would carry to CPC b), and
    a QoS 1 subscriber on CPC a (its own `$MQTT_msgs`). `spy`: where CPC a's anonymous clients would read what
    a stream or consumer copies of CPC b.
    """
    csc, a, b = federation.csc, federation.cluster("a"), federation.cluster("b")
    store = await c.sink(csc, "CSC", "$MQTT.msgs.>", 1)
    to_b = [await c.sink(b, "CPC", "command.x", 1), await c.sink(b, "CPC", "command.>", 1)]
    to_b += [c.mqtt_sink(b, "command/#", 1, 1), store]
    to_a = [await c.sink(a, "CPC", "command.x", 1), c.mqtt_sink(a, "command/x", 1, 1)]
    spy = [await c.sink(a, "CPC", "command.spy.snoop", 1), await c.sink(a, "CPC", "command.spy.>", 1)]
    return {
        "b": _Watch("control-b", clients.mqtt_publisher(c.mq(csc), "cpc/b/command/x", 1), to_b, (store,)),
        "a": _Watch("control-a", clients.mqtt_publisher(c.mq(csc), "cpc/a/command/x", 1), to_a),
        "spy": _Watch("control-spy", clients.nats_publisher(await c.nc(csc, "CSC"), "cpc.a.command.spy.snoop"), spy),
    }


async def _remove_redirects(federation: Federation) -> None:
    csc = federation.csc
    async with clients.opened(federation) as c:
        admin = await c.nc(csc, naming.SOURCES)
        for stream in (SOURCE_A, SOURCE_B):
            reply = await admin.request(f"$JS.API.CONSUMER.LIST.{stream}", b"{}", timeout=clients.TIMEOUT)
            for consumer in json.loads(reply.data).get("consumers", []):
                if not str(consumer["config"].get("deliver_subject", "")).startswith("csc2cpc."):
                    delete = f"$JS.API.CONSUMER.DELETE.{stream}.{consumer['name']}"
                    await admin.request(delete, b"", timeout=clients.TIMEOUT)


@pytest.fixture(scope="module", autouse=True)
def _no_redirecting_consumer(federation: Federation) -> None:
    """The federation as the example stacks run it: no push consumer on the CSC's per-CPC source streams but their
    CPCs' stream sources. The federation creates none; an earlier attack that got one created would leave it
    behind, and these tests would then watch its deliveries, not their own attack's."""
    asyncio.run(_remove_redirects(federation))


async def _state(c: clients.Clients, federation: Federation) -> dict[str, Any]:
    """Every cluster's stream names, and the consumer count of the CSC's per-CPC source streams."""
    state: dict[str, Any] = {}
    for cluster in (federation.csc, *federation.cpcs):
        admin = await c.nc(cluster, _domain(cluster))
        reply = await admin.request("$JS.API.STREAM.NAMES", b"{}", timeout=clients.TIMEOUT)
        state[f"{cluster.stack} streams"] = sorted(json.loads(reply.data)["streams"])
    admin = await c.nc(federation.csc, naming.SOURCES)
    reply = await admin.request("$JS.API.STREAM.NAMES", b"{}", timeout=clients.TIMEOUT)
    state["csc SOURCES streams"] = sorted(json.loads(reply.data)["streams"])
    for stream in (SOURCE_A, SOURCE_B):
        reply = await admin.request(f"$JS.API.STREAM.INFO.{stream}", b"{}", timeout=clients.TIMEOUT)
        info = json.loads(reply.data)
        state[f"csc {stream} consumers"] = info["state"]["consumer_count"] if "state" in info else info.get("error")
    return state


# ---- anonymous MQTT on the CSC --------------------------------------------------------------------------


async def _csc_own_paths(federation: Federation) -> list[Result]:
    csc = federation.csc
    async with clients.opened(federation) as c:
        with _anonymous(csc) as anon:
            results = []
            for qos in (0, 1):
                telemetry = Sink(f"anonymous csc q{qos} cpc/+/sensor/#", 1)
                granted = anon.subscribe("cpc/+/sensor/#", qos, telemetry)
                results.append(Result(f"subscribe q{qos} cpc/+/sensor/#", granted == qos, f"granted {granted}"))
                for cpc in federation.cpcs:  # telemetry published on a CPC arrives as cpc/<id>/sensor/x
                    publish = clients.nats_publisher(await c.nc(cpc, "CPC"), "sensor.x")
                    results.append(await _reaches(f"{cpc.stack} sensor.x -> {telemetry.label}", publish, [telemetry]))
                anon.sinks.clear()  # the next SUBSCRIBE of the same filter replaces this one
            up = await c.sink(csc, "CSC", "test.x", 1)
            for qos in (0, 1):
                publish = clients.mqtt_publisher(anon, "test/x", qos)
                results.append(await _reaches(f"anonymous csc q{qos} test/x", publish, [up]))
            return results


def test_anonymous_mqtt_on_the_csc_publishes_test_and_reads_every_cpcs_telemetry(
    federation: Federation,
) -> None:
    for result in asyncio.run(_csc_own_paths(federation)):
        assert result.ok, f"{result.name}: {result.detail}"


async def _csc_commands_b(federation: Federation, qos: int) -> tuple[Result, Result, list[str], bool]:
    csc = federation.csc
    async with clients.opened(federation) as c:
        watches = await _command_watches(c, federation)
        with _anonymous(csc) as anon:
            up = await c.sink(csc, "CSC", "test.x", 1)
            own = await _reaches("anonymous csc test/x", clients.mqtt_publisher(anon, "test/x", qos), [up])
            attack = anon.attack("cpc/b/command/x", qos)
            guarded, leaks = await _guarded(f"q{qos} cpc/b/command/x", attack, [watches["b"]])
            return own, guarded, leaks, await anon.refused("cpc.b.command.x")


@pytest.mark.parametrize("qos", [0, 1], ids=lambda q: f"qos{q}")
def test_anonymous_mqtt_on_the_csc_cannot_command_cpc_b(federation: Federation, qos: int) -> None:
    own, guarded, leaks, refused = asyncio.run(_csc_commands_b(federation, qos))

    assert own.ok, own.detail  # connected, and its own test/x arrives
    assert guarded.ok, guarded.detail  # the CSC's own command reaches CPC b, before and after
    assert not leaks, leaks
    assert refused, "the CSC did not log the anonymous publish to cpc.b.command.x as a violation"


async def _csc_broadcasts(federation: Federation, qos: int) -> tuple[Result, Result, list[str], bool]:
    csc = federation.csc
    async with clients.opened(federation) as c:
        sinks = [await c.sink(cpc, "CPC", "broadcast.>", 1) for cpc in federation.cpcs]
        sinks += [c.mqtt_sink(cpc, "broadcast/#", 1, 1) for cpc in federation.cpcs]
        watch = _Watch("control-broadcast", clients.mqtt_publisher(c.mq(csc), "broadcast/x", 1), sinks)
        with _anonymous(csc) as anon:
            up = await c.sink(csc, "CSC", "test.x", 1)
            own = await _reaches("anonymous csc test/x", clients.mqtt_publisher(anon, "test/x", qos), [up])
            guarded, leaks = await _guarded(f"q{qos} broadcast/x", anon.attack("broadcast/x", qos), [watch])
            return own, guarded, leaks, await anon.refused("broadcast.x")


@pytest.mark.parametrize("qos", [0, 1], ids=lambda q: f"qos{q}")
def test_anonymous_mqtt_on_the_csc_cannot_broadcast_to_the_cpcs(federation: Federation, qos: int) -> None:
    own, guarded, leaks, refused = asyncio.run(_csc_broadcasts(federation, qos))

    assert own.ok, own.detail
    assert guarded.ok, guarded.detail  # the CSC's own broadcast reaches every CPC, before and after
    assert not leaks, leaks
    assert refused, "the CSC did not log the anonymous publish to broadcast.x as a violation"


CSC_API_TOPICS = [
    # nats-server's MQTT accepts topics that begin with `$` and maps them to `$` subjects (measured on both
    # versions): these reach the permission check, and are refused there, not by the MQTT layer.
    ("$MQTT/msgs/cpc/b/command/x", None),
    ("$JS/API/STREAM/DELETE/$MQTT_msgs", b"{}"),
    ("$JS/CSC/API/STREAM/DELETE/$MQTT_msgs", b"{}"),
    ("$JS/API/STREAM/CREATE/RELAY", _body(RELAY_CSC)),
    ("$JS/API/STREAM/CREATE/SPY", _body(SPY_B)),
    (f"{SOURCES_TOPIC}/CONSUMER/CREATE/{SOURCE_A}", _body(REDIRECT_A)),
    (f"{SOURCES_TOPIC}/CONSUMER/CREATE/{SOURCE_B}", _body(SNOOP_B)),
    ("$KV/x/y", None),
    ("$SYS/REQ/SERVER/PING", b"{}"),
]


async def _api_attack(
    federation: Federation, cluster: LocalCluster, topic_name: str, body: bytes | None, own: tuple[str, str]
) -> tuple[Result, Result, list[str], bool, dict[str, Any], dict[str, Any]]:
    """An anonymous MQTT publish on `topic_name`; then, through the same connection, its own publish `own[0]`
    (seen on the CSC as `own[1]`), which a relay stream, had the attack created one, would carry on."""
    csc = federation.csc
    async with clients.opened(federation) as c:
        before = await _state(c, federation)
        watches = await _command_watches(c, federation)
        with _anonymous(cluster) as anon:
            sent = await c.sink(csc, "CSC", own[1], 1)
            relayed: list[Result] = []

            async def attack(token: bytes) -> None:
                await anon.attack(topic_name, 1, body)(token)
                if "CREATE" in topic_name:
                    await asyncio.sleep(SETTLE)
                # Connected, and its own path works: these probes carry the token, so a relay would give it away.
                publish = clients.mqtt_publisher(anon, own[0], 0)
                relayed.append(await _reaches(f"anonymous {cluster.stack} {own[0]}", publish, [sent], token))

            guarded, leaks = await _guarded(topic_name, attack, list(watches.values()))
            refused = await anon.refused(_subject(topic_name))
        relay = relayed[0] if relayed else Result("own path", False, "the attack was never made")
        return guarded, relay, leaks, refused, before, await _state(c, federation)


@pytest.mark.parametrize(("topic_name", "body"), CSC_API_TOPICS, ids=[t for t, _ in CSC_API_TOPICS])
def test_anonymous_mqtt_on_the_csc_reaches_no_server_api_and_no_mqtt_store(
    federation: Federation, topic_name: str, body: bytes | None
) -> None:
    own = ("test/relay/x", "test.relay.x")
    guarded, relayed, leaks, refused, before, after = asyncio.run(
        _api_attack(federation, federation.csc, topic_name, body, own)
    )

    assert guarded.ok, guarded.detail
    assert relayed.ok, relayed.detail  # connected: its own test/relay/x reached the CSC
    assert not leaks, leaks
    assert refused, f"the CSC did not log the anonymous publish to {_subject(topic_name)} as a violation"
    assert after == before


CSC_SUBSCRIPTIONS = ["#", "cpc/b/#", "cpc/+/command/#", "broadcast/#", "$MQTT/#", "$JS/#", "$SYS/#", "+/#"]


async def _subscriptions(
    federation: Federation, cluster: LocalCluster, refused: Sequence[str], allowed: Sequence[str]
) -> tuple[dict[str, int], dict[str, int], list[str], list[str]]:
    """(granted QoS of the allowed filters, of the refused ones, refused filters the server did not log as a
    violation, filters the MQTT layer reserves: refused to a full-access client too, before any permission check).
    """
    admin = clients.mqtt_admin(cluster, federation)
    try:
        reserved = [pattern for pattern in refused if admin.subscribe(pattern, 1) == 128]
    finally:
        admin.close()
    with _anonymous(cluster) as anon:
        granted = {pattern: anon.subscribe(pattern, 1) for pattern in refused}
        own = {pattern: anon.subscribe(pattern, 1) for pattern in allowed}
        unlogged = [p for p in refused if p not in reserved and not await anon.refused(_subject(p), "Subscription")]
        return own, granted, unlogged, reserved


def test_anonymous_mqtt_on_the_csc_may_subscribe_only_to_test_and_telemetry(federation: Federation) -> None:
    allowed = ["cpc/+/sensor/#", "test/#"]
    own, granted, unlogged, reserved = asyncio.run(
        _subscriptions(federation, federation.csc, CSC_SUBSCRIPTIONS, allowed)
    )

    assert own == dict.fromkeys(allowed, 1)  # connected, and its own subscriptions are granted
    assert granted == dict.fromkeys(CSC_SUBSCRIPTIONS, 128)
    assert not unlogged, f"refused without a logged subscription violation: {unlogged}"
    # 2.15.1 refuses `$MQTT/` filters to every MQTT client (full access too) before any permission check, and
    # logs nothing; 2.12.6 grants them to full access and refuses them to the anonymous client by its permissions.
    assert set(reserved) <= {"$MQTT/#"}, reserved


# ---- anonymous MQTT on a CPC ----------------------------------------------------------------------------


async def _cpc_a_own_paths(federation: Federation) -> list[Result]:
    csc, a = federation.csc, federation.cluster("a")
    async with clients.opened(federation) as c:
        with _anonymous(a) as anon:
            up = [await c.sink(csc, "CSC", "cpc.a.sensor.x", 1), c.mqtt_sink(csc, "cpc/a/sensor/#", 0, 1)]
            sent = await _reaches("anonymous cpc-a sensor/x", clients.mqtt_publisher(anon, "sensor/x", 0), up)
            commands = Sink("anonymous cpc-a command/#", 1)
            granted = anon.subscribe("command/#", 1, commands)
            down = clients.mqtt_publisher(c.mq(csc), "cpc/a/command/x", 1)
            received = await _reaches("csc q1 cpc/a/command/x -> anonymous cpc-a", down, [commands])
            return [sent, Result("subscribe q1 command/#", granted == 1, f"granted {granted}"), received]


def test_anonymous_mqtt_on_cpc_a_sends_telemetry_to_the_csc_and_receives_its_commands(
    federation: Federation,
) -> None:
    for result in asyncio.run(_cpc_a_own_paths(federation)):
        assert result.ok, f"{result.name}: {result.detail}"


async def _cpc_a_user_events(federation: Federation) -> list[Result]:
    csc, a = federation.csc, federation.cluster("a")
    async with clients.opened(federation) as c:
        with _anonymous(a) as anon:
            commands = Sink("anonymous cpc-a command/#", 0)
            anon.subscribe("command/#", 0, commands)
            admin = await c.nc(csc, "CSC")
            # Positive control: its commands arrive on the same subscription, so interest has crossed.
            control = await _reaches(
                "csc cpc.a.command.x -> anonymous cpc-a", clients.nats_publisher(admin, "cpc.a.command.x"), [commands]
            )
            agent = await c.sink(a, "CPC", "command.user.>", 1)
            login = clients.nats_publisher(admin, "cpc.a.command.user.login")
            events = await clients.deliver(
                "csc cpc.a.command.user.login", login, [agent, Sink("anonymous", 0, commands.got)]
            )
            return [control, events]


def test_anonymous_mqtt_on_cpc_a_does_not_read_the_user_login_events_sveltos_reacts_to(
    federation: Federation,
) -> None:
    for result in asyncio.run(_cpc_a_user_events(federation)):
        assert result.ok, f"{result.name}: {result.detail}"


CPC_API_TOPICS = [
    ("$JS/API/STREAM/DELETE/$MQTT_msgs", b"{}"),  # CPC a's own JetStream
    ("$JS/API/STREAM/CREATE/RELAY", _body(RELAY_LOCAL)),
    ("$JS/CSC/API/STREAM/DELETE/$MQTT_msgs", b"{}"),  # the CSC's, of which the CPC account imports a little
    ("$JS/CSC/API/STREAM/CREATE/RELAY", _body(RELAY_FROM_A)),
    ("$JS/CSC/API/STREAM/CREATE/SPY", _body(SPY_B)),
    (f"{SOURCES_TOPIC}/CONSUMER/CREATE/{SOURCE_A}", _body(REDIRECT_A)),  # the one API the CPC account imports
    (f"{SOURCES_TOPIC}/CONSUMER/CREATE/{SOURCE_B}", _body(SNOOP_B)),
    ("$MQTT/msgs/command/x", None),
    ("$MQTT/msgs/cpc/b/command/x", None),
    ("$KV/x/y", None),
    ("$SYS/REQ/SERVER/PING", b"{}"),
]


@pytest.mark.parametrize(("topic_name", "body"), CPC_API_TOPICS, ids=[t for t, _ in CPC_API_TOPICS])
def test_anonymous_mqtt_on_cpc_a_reaches_no_jetstream_api_and_no_mqtt_store(
    federation: Federation, topic_name: str, body: bytes | None
) -> None:
    own = ("sensor/relay/x", "cpc.a.sensor.relay.x")
    guarded, relayed, leaks, refused, before, after = asyncio.run(
        _api_attack(federation, federation.cluster("a"), topic_name, body, own)
    )

    assert guarded.ok, guarded.detail
    assert relayed.ok, relayed.detail  # connected: its own telemetry reached the CSC
    assert not leaks, leaks
    assert refused, f"cpc-a did not log the anonymous publish to {_subject(topic_name)} as a violation"
    assert after == before


async def _cpc_a_reads_b(federation: Federation) -> tuple[Result, list[str], bool]:
    """The measured attack, end to end: a CSC stream on CPC b's subjects that republishes where CPC a's anonymous
    clients read (their commands), then CPC b's telemetry and commands, watched by an anonymous reader on CPC a."""
    csc, a, b = federation.csc, federation.cluster("a"), federation.cluster("b")
    async with clients.opened(federation) as c:
        watches = await _command_watches(c, federation)
        with _anonymous(a) as anon:
            reader = Sink("anonymous cpc-a command/#", 1)
            assert anon.subscribe("command/#", 0, reader) == 0
            to_a = clients.nats_publisher(await c.nc(csc, "CSC"), "cpc.a.command.x")
            watches["reader"] = _Watch("control-reader", to_a, [reader])
            telemetry = clients.nats_publisher(await c.nc(b, "CPC"), "sensor.x")
            seen = await c.sink(csc, "CSC", "cpc.b.sensor.x", 1)
            crossed: list[Result] = []

            async def attack(token: bytes) -> None:
                await anon.attack("$JS/CSC/API/STREAM/CREATE/SPY", 1, _body(SPY_B))(token)
                await asyncio.sleep(SETTLE)
                crossed.append(await _reaches("cpc-b sensor.x -> csc", telemetry, [seen], token))

            guarded, leaks = await _guarded("SPY on cpc.b.>", attack, [watches["b"], watches["reader"]])
            if guarded.ok and not crossed[0].ok:
                guarded = crossed[0]
            return guarded, leaks, await anon.refused("$JS.CSC.API.STREAM.CREATE.SPY")


def test_anonymous_mqtt_on_cpc_a_cannot_read_cpc_b_through_a_csc_stream(federation: Federation) -> None:
    guarded, leaks, refused = asyncio.run(_cpc_a_reads_b(federation))

    assert guarded.ok, guarded.detail  # CPC b's telemetry reached the CSC; the reader on CPC a gets its commands
    assert not leaks, leaks
    assert refused


async def _cpc_a_publishes(federation: Federation, topic_name: str, qos: int) -> tuple[Result, Result, list[str], bool]:
    a = federation.cluster("a")
    subject = _subject(topic_name)
    async with clients.opened(federation) as c:
        sinks = [await c.sink(a, "CPC", subject, 1), c.mqtt_sink(a, topic_name, 1, 1)]
        watch = _Watch("control-local", clients.mqtt_publisher(c.mq(a), topic_name, 1), sinks)
        with _anonymous(a) as anon:
            up = await c.sink(a, "CPC", "sensor.x", 1)
            own = await _reaches("anonymous cpc-a sensor/x", clients.mqtt_publisher(anon, "sensor/x", qos), [up])
            guarded, leaks = await _guarded(f"q{qos} {topic_name}", anon.attack(topic_name, qos), [watch])
            return own, guarded, leaks, await anon.refused(subject)


@pytest.mark.parametrize("qos", [0, 1], ids=lambda q: f"qos{q}")
@pytest.mark.parametrize("topic_name", ["command/x", "broadcast/x", "test/x"])
def test_anonymous_mqtt_on_cpc_a_may_publish_only_telemetry(federation: Federation, topic_name: str, qos: int) -> None:
    own, guarded, leaks, refused = asyncio.run(_cpc_a_publishes(federation, topic_name, qos))

    assert own.ok, own.detail
    assert guarded.ok, guarded.detail  # local subscribers of topic_name get the admin's, not the anonymous one
    assert not leaks, leaks
    assert refused


CPC_SUBSCRIPTIONS = ["#", "cpc/b/#", "cpc/+/command/#", "sensor/#", "test/#", "$MQTT/#", "$JS/#", "$SYS/#", "+/#"]


def test_anonymous_mqtt_on_cpc_a_may_subscribe_only_to_broadcasts_and_its_commands(
    federation: Federation,
) -> None:
    allowed = ["command/#", "broadcast/#"]
    a = federation.cluster("a")
    own, granted, unlogged, reserved = asyncio.run(_subscriptions(federation, a, CPC_SUBSCRIPTIONS, allowed))

    assert own == dict.fromkeys(allowed, 1)
    assert granted == dict.fromkeys(CPC_SUBSCRIPTIONS, 128)
    assert not unlogged, f"refused without a logged subscription violation: {unlogged}"
    assert set(reserved) <= {"$MQTT/#"}, reserved  # as on the CSC


# ---- anonymous NATS -------------------------------------------------------------------------------------


async def _anonymous_nats(url: str) -> None:
    async def quiet(_: Exception) -> None:
        return None

    client = await nats.connect(url, allow_reconnect=False, connect_timeout=2, error_cb=quiet)
    await client.close()


@pytest.mark.parametrize("stack", ["csc", "cpc-a", "cpc-b"])
def test_an_anonymous_nats_client_is_refused(federation: Federation, stack: str) -> None:
    # Locally `no_auth_user` is set in mqtt{} only. Upstream the auth-callout gives such a client the noauth
    # permissions, which the tests below exercise with the noauth user's own credentials.
    with pytest.raises(nats.errors.Error, match="Authorization Violation"):
        asyncio.run(_anonymous_nats(federation.clusters[stack].main.url("client")))


REPLY = {"csc": "test.reply", "cpc-a": "command.reply"}
"""Where the noauth client asks for replies: a subject it may subscribe to, so that a reply would reach it."""
OWN = {"csc": ("test.relay.x", "test.relay.x"), "cpc-a": ("sensor.relay.x", "cpc.a.sensor.relay.x")}
"""(what the noauth client may publish, where the CSC sees it): what a relay stream would carry on."""


async def _noauth_own_paths(federation: Federation, stack: str) -> list[Result]:
    cluster, csc = federation.clusters[stack], federation.csc
    async with clients.opened(federation) as c, _noauth_nats(federation, cluster) as (client, errors):
        replies = await clients.nats_sink(client, f"{REPLY[stack]}.>", "noauth replies", 1)
        admin = await c.nc(cluster, _domain(cluster))
        # A request the admin may make, answered on the noauth client's reply subject: a reply would reach it.
        await admin.publish("$JS.API.INFO", b"", reply=f"{REPLY[stack]}.{secrets.token_hex(4)}")
        await admin.flush()
        deadline = time.monotonic() + clients.TIMEOUT
        while not replies.got and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        results = [Result(f"a reply on {REPLY[stack]}.> reaches noauth", bool(replies.got), f"{len(replies.got)}")]
        own, seen = OWN[stack]
        sent = await c.sink(csc, "CSC", seen, 1)
        results.append(await _reaches(f"noauth {stack} {own}", clients.nats_publisher(client, own), [sent]))
        if cluster is csc:
            telemetry = await clients.nats_sink(client, "cpc.*.sensor.>", "noauth csc cpc.*.sensor.>", 1)
            for cpc in federation.cpcs:
                publish = clients.nats_publisher(await c.nc(cpc, "CPC"), "sensor.x")
                results.append(await _reaches(f"{cpc.stack} sensor.x -> noauth csc", publish, [telemetry]))
        else:
            commands = await clients.nats_sink(client, "command.>", "noauth cpc-a command.>", 1)
            publish = clients.nats_publisher(await c.nc(csc, "CSC"), "cpc.a.command.x")
            results.append(await _reaches("csc cpc.a.command.x -> noauth cpc-a", publish, [commands]))
        results.append(Result("no permission errors", not errors.seen, str(errors.seen)))
        return results


@pytest.mark.parametrize("stack", ["csc", "cpc-a"])
def test_the_noauth_identity_over_nats_uses_its_own_paths_and_gets_replies(federation: Federation, stack: str) -> None:
    for result in asyncio.run(_noauth_own_paths(federation, stack)):
        assert result.ok, f"{result.name}: {result.detail}"


NATS_ATTACKS = [
    ("csc", "$JS.API.STREAM.CREATE.RELAY", _body(RELAY_CSC)),
    ("csc", "$JS.API.STREAM.CREATE.SPY", _body(SPY_B)),
    ("csc", "$JS.API.STREAM.DELETE.$MQTT_msgs", b"{}"),
    ("csc", "$JS.CSC.API.STREAM.DELETE.$MQTT_msgs", b"{}"),
    ("csc", f"{topology.SOURCES_API}.CONSUMER.CREATE.{SOURCE_A}", _body(REDIRECT_A)),
    ("csc", f"{topology.SOURCES_API}.CONSUMER.CREATE.{SOURCE_B}", _body(SNOOP_B)),
    ("csc", "$KV.x.y", None),
    ("csc", "$SYS.REQ.SERVER.PING", b""),
    ("csc", "$MQTT.msgs.cpc.b.command.x", None),
    ("cpc-a", "$JS.API.STREAM.CREATE.RELAY", _body(RELAY_LOCAL)),
    ("cpc-a", "$JS.CSC.API.STREAM.CREATE.RELAY", _body(RELAY_FROM_A)),
    ("cpc-a", "$JS.CSC.API.STREAM.CREATE.SPY", _body(SPY_B)),
    ("cpc-a", "$JS.CSC.API.STREAM.DELETE.$MQTT_msgs", b"{}"),
    ("cpc-a", f"{topology.SOURCES_API}.CONSUMER.CREATE.{SOURCE_A}", _body(REDIRECT_A)),
    ("cpc-a", f"{topology.SOURCES_API}.CONSUMER.CREATE.{SOURCE_B}", _body(SNOOP_B)),
    ("cpc-a", "$KV.x.y", None),
    ("cpc-a", "$SYS.REQ.SERVER.PING", b""),
    ("cpc-a", "$MQTT.msgs.cpc.b.command.x", None),
    ("cpc-a", "$MQTT.msgs.command.x", None),
]


async def _noauth_attack(
    federation: Federation, stack: str, subject: str, body: bytes | None
) -> tuple[Result, Result, list[str], list[Msg], ServerErrors, dict[str, Any], dict[str, Any]]:
    cluster, csc = federation.clusters[stack], federation.csc
    async with clients.opened(federation) as c:
        before = await _state(c, federation)
        watches = await _command_watches(c, federation)
        async with _noauth_nats(federation, cluster) as (client, errors):
            replies: list[Msg] = []

            async def on_reply(msg: Msg) -> None:
                replies.append(msg)

            await client.subscribe(f"{REPLY[stack]}.>", cb=on_reply)
            own, seen = OWN[stack]
            sent = await c.sink(csc, "CSC", seen, 1)
            relayed: list[Result] = []

            async def attack(token: bytes) -> None:
                reply = f"{REPLY[stack]}.{secrets.token_hex(4)}"
                await client.publish(subject, token if body is None else body, reply=reply)
                await client.flush()
                if "CREATE" in subject:
                    await asyncio.sleep(SETTLE)
                # Connected, and its own path works: these probes carry the token, so a relay would give it away.
                publish = clients.nats_publisher(client, own)
                relayed.append(await _reaches(f"noauth {stack} {own}", publish, [sent], token))

            guarded, leaks = await _guarded(subject, attack, list(watches.values()))
        relay = relayed[0] if relayed else Result("own path", False, "the attack was never made")
        return guarded, relay, leaks, replies, errors, before, await _state(c, federation)


@pytest.mark.parametrize(
    ("stack", "subject", "body"), NATS_ATTACKS, ids=[f"{stack}-{subject}" for stack, subject, _ in NATS_ATTACKS]
)
def test_the_noauth_identity_over_nats_reaches_no_server_api_and_nothing_of_cpc_b(
    federation: Federation, stack: str, subject: str, body: bytes | None
) -> None:
    guarded, relayed, leaks, replies, errors, before, after = asyncio.run(
        _noauth_attack(federation, stack, subject, body)
    )

    assert guarded.ok, guarded.detail
    assert relayed.ok, relayed.detail  # connected: its own publish reached the CSC
    assert not leaks, leaks
    assert not replies, [r.data for r in replies]
    assert errors.refused("publish", *_checked(subject)), errors.seen
    assert after == before
