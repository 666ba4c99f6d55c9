"""A CPC's leaf key rotated under load on real nats-server, in docs/operations.md's order (dsxbus.rotation).

A hub (the CSC) admits a spoke's (a CPC's) current and pre-published next leaf key; a publisher on the spoke sends
a bounded stream of messages, each retried until answered across the leaf (at least once, as MQTT QoS 1); while
it runs the spoke switches to the next key (`up` the CPC: a reload where the version applies changed leaf remotes,
else a restart) and then the hub stops admitting the old one (`up` the CSC: a reload). Then the same on the
dsx-bus local federation, through `runner.rotate_leaf` (`dsx-bus local rotate STACK --leaf`). Used by
tests/nats/test_leaf_key_rotation_on_server.py, tests/nats/local/test_local_rotation.py and
benchmarks/leaf_key_rotation.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import nats
import nats.errors
import paho.mqtt.client as paho
from nats.aio.client import Client as Nats
from nats.aio.msg import Msg

from dsxbus import nkeys, subjects, versions
from dsxbus.local import clients, plan, runner, servers
from dsxbus.local.servers import LocalError
from dsxbus.local.state import Federation
from dsxbus.nkeys import KeyKind

APP = ("app", "app")


@dataclass
class Outcome:
    sent: int
    answered: set[int] = field(default_factory=set)
    received: set[int] = field(default_factory=set)
    gap: float = 0.0
    """The longest time between two answers: what the rotation costs the stream."""
    restarted: bool = False
    """The spoke restarted to switch keys (its nats-server cannot reload leaf remotes)."""
    new_key_dials: bool = False
    """After the hub restarts admitting only the new key, the spoke's leaf comes back: it dials with that key."""


def _hub_conf(ports: dict[str, int] | None, admitted: list[str]) -> str:
    p = ports or {"client": -1, "http": -1, "leaf": -1}
    users = ", ".join([*(f'{{nkey: "{key}"}}' for key in admitted), f"{{user: {APP[0]}, password: {APP[1]}}}"])
    return (
        f'listen: "127.0.0.1:{p["client"]}"\nhttp: "127.0.0.1:{p["http"]}"\n'
        f'leafnodes {{ listen: "127.0.0.1:{p["leaf"]}" }}\naccounts {{ CSC {{ users: [ {users} ] }} }}\n'
    )


def _spoke_conf(port: int, hub_leaf: int, seed: str) -> str:
    return (
        f'listen: "127.0.0.1:{port}"\naccounts {{ CPC {{ users: [ {{user: {APP[0]}, password: {APP[1]}}} ] }} }}\n'
        f'leafnodes {{ reconnect: "100ms", remotes: [ {{ urls: ["nats://127.0.0.1:{hub_leaf}"], account: CPC, '
        f'nkey: "{seed}" }} ] }}\n'
    )


def _start(directory: Path, name: str, text: str, expect: tuple[str, ...]) -> servers.Server:
    conf = directory / f"{name}.conf"
    conf.write_text(text)
    return servers.wait_ready(servers.start(name, conf, directory / f"{name}.log"), expect)


async def _expected(_: Exception) -> None:
    return None


async def _answered(client: Nats, subject: str, give_up: float) -> bool:
    """Send until answered, as an MQTT QoS 1 publisher resends until acknowledged; False after `give_up` s."""
    deadline = time.monotonic() + give_up
    while time.monotonic() < deadline:
        try:
            await client.request(subject, b"x", timeout=0.25)
            return True
        except (nats.errors.TimeoutError, nats.errors.NoRespondersError, nats.errors.ConnectionClosedError):
            await asyncio.sleep(0.02)
    return False


def _leaf_up(hub: servers.Server, timeout: float) -> bool:
    try:
        servers.wait_for(lambda: True if servers.leaf_count(hub) else None, timeout, "the spoke's leaf")
    except servers.WaitTimeoutError:
        return False
    return True


GIVE_UP = 3.0
"""Seconds a message is retried before the stream counts it lost and stops (a reconnect here takes < 0.3 s)."""


async def rotate_under_load(
    directory: Path,
    version: str,
    count: int = 300,
    interval: float = 0.004,
    *,
    pre_admitted: bool = True,
    give_up: float = GIVE_UP,
) -> Outcome:
    """`pre_admitted=False`: the hub admits only the current key until the spoke has switched (no window)."""
    current, upcoming = nkeys.generate(KeyKind.USER), nkeys.generate(KeyKind.USER)
    first = [current.public_key, *([upcoming.public_key] if pre_admitted else [])]
    hub = _start(directory, "hub", _hub_conf(None, first), ("client", "http", "leaf"))
    hub.conf.write_text(_hub_conf(hub.ports, first))  # fixed ports from now on, for the reloads and the restart
    spoke = _start(directory, "spoke", _spoke_conf(-1, hub.ports["leaf"], current.seed), ("client",))
    spoke_port = spoke.ports["client"]
    spoke.conf.write_text(_spoke_conf(spoke_port, hub.ports["leaf"], current.seed))
    outcome = Outcome(count, restarted=not versions.leaf_remotes_reload(version))
    running = [hub, spoke]
    try:
        assert _leaf_up(hub, 5), "the spoke's leaf never connected"
        responder = await nats.connect(hub.url("client"), user=APP[0], password=APP[1])
        publisher = await nats.connect(
            f"nats://127.0.0.1:{spoke_port}",
            user=APP[0],
            password=APP[1],
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.05,
            error_cb=_expected,  # the spoke's restart refuses connections for a moment: that is the test
        )

        async def answer(msg: Msg) -> None:
            outcome.received.add(int(msg.subject.rsplit(".", 1)[1]))
            await msg.respond(b"ok")

        await responder.subscribe("rot.>", cb=answer)
        await responder.flush()

        def switch_spoke() -> None:  # `pulumi up -s cpc-a` with the next leaf generation
            spoke.conf.write_text(_spoke_conf(spoke_port, hub.ports["leaf"], upcoming.seed))
            if outcome.restarted:
                servers.stop(running[1])
                running[1] = servers.wait_ready(servers.start("spoke", spoke.conf, spoke.log), ("client",))
            else:
                os.kill(running[1].pid, signal.SIGHUP)

        def retire_old_key() -> None:  # `pulumi up -s csc`: admits the new key and the next, no longer the old
            hub.conf.write_text(_hub_conf(hub.ports, [upcoming.public_key]))
            os.kill(hub.pid, signal.SIGHUP)

        last = time.monotonic()
        for index in range(count):
            if index == count // 3:
                await asyncio.to_thread(switch_spoke)
            if index == 2 * count // 3:
                await asyncio.to_thread(retire_old_key)
            if not await _answered(publisher, f"rot.{index}", give_up):
                break  # lost: the rest of the stream would wait on the same refused leaf
            now = time.monotonic()
            outcome.gap = max(outcome.gap, now - last)
            last = now
            outcome.answered.add(index)
            await asyncio.sleep(interval)
        await publisher.close()
        await responder.close()
        if len(outcome.answered) < count:
            return outcome  # stalled: no key to prove
        # Proof of the key in use: a hub that admits only the new key takes the spoke's leaf back.
        servers.stop(hub)
        running[0] = servers.wait_ready(servers.start("hub", hub.conf, hub.log), ("client", "http", "leaf"))
        outcome.new_key_dials = _leaf_up(running[0], 3)
        return outcome
    finally:
        for server in running:
            servers.stop(server)


# ---- the same window on the dsx-bus local federation (`dsx-bus local rotate STACK --leaf`) -------------------


@dataclass
class LocalOutcome:
    """A stream of MQTT messages from a CPC to the CSC while `local rotate` ran."""

    sent: int
    delivered: dict[int, float] = field(default_factory=dict)
    """Message index -> when the CSC's subscriber first got it (monotonic)."""
    resent: int = 0
    """Publishes beyond the first of a message (not yet delivered after RESEND)."""
    rotation: runner.LeafRotation | None = None
    rotation_error: str | None = None
    rotation_span: tuple[float, float] = (0.0, 0.0)
    """When the rotation started and ended (monotonic)."""

    @property
    def gap(self) -> float:
        """The longest time between two deliveries (the routing gap the rotation costs the stream)."""
        times = sorted(self.delivered.values())
        return max((b - a for a, b in itertools.pairwise(times)), default=0.0)

    @property
    def lost(self) -> list[int]:
        return [index for index in range(self.sent) if index not in self.delivered]


RESEND = 0.05
"""An MQTT QoS 1 publish not yet seen by the subscriber after this long is sent again (a new PUBLISH)."""


def rotate_local_under_load(
    federation: Federation,
    stack: str,
    count: int = 300,
    interval: float = 0.004,
    *,
    admit_first: bool = True,
    give_up: float = GIVE_UP,
    timeout: float = 15.0,
) -> LocalOutcome:
    """An MQTT QoS 1 publisher on the CPC `stack` (its `local-mqtt` user) sends `count` messages on its first
    cpcExports subject; an MQTT subscriber on the CSC (QoS 0: QoS 1 CPC -> CSC is not delivered, check.QOS1_UP_NOTE)
    records each one's first arrival. Each message waits for its PUBACK and is published again every RESEND s
    until the subscriber has it (at least once, end to end; a PUBACK only says the CPC stored it), for at most
    `give_up` s: then it counts lost and the stream stops. At a quarter of the stream `runner.rotate_leaf` starts
    in a thread on the run dir, as `dsx-bus local rotate STACK --leaf` would."""
    cpc = federation.clusters[stack]
    subject = subjects.concrete_subject(cpc.lists.cpc_exports[0]) + ".rot"
    outcome = LocalOutcome(count)
    subscriber = clients.mqtt_admin(federation.csc, federation)
    publisher = clients.Mqtt(
        cpc.main.ports["mqtt"], username=plan.MQTT_ADMIN_USER, password=federation.keys[stack].mqtt_password
    )
    publisher.client.reconnect_delay_set(0.05, 0.2)  # type: ignore[arg-type]  # paho takes float seconds too
    lock = threading.Lock()

    def arrived(_c: object, _u: object, message: paho.MQTTMessage) -> None:
        index = int(message.topic.rsplit("/", 1)[1])
        with lock:
            outcome.delivered.setdefault(index, time.monotonic())

    subscriber.client.on_message = arrived
    up = subjects.mqtt_topic(subjects.cpc_prefix(cpc.id) + subject)
    rotating = threading.Thread(target=_rotate, args=(federation, stack, outcome, admit_first, timeout))
    try:
        subscriber.subscribe(up + "/#", 0)
        publisher.connect()
        _await_route(publisher, subjects.mqtt_topic(subject), outcome, lock)
        for index in range(count):
            if index == count // 4:
                rotating.start()
            if not _delivered(publisher, f"{subjects.mqtt_topic(subject)}/{index}", index, outcome, lock, give_up):
                break
            time.sleep(interval)
    finally:
        if rotating.ident is not None:  # started
            rotating.join()
        publisher.close()
        subscriber.close()
    return outcome


def _rotate(federation: Federation, stack: str, outcome: LocalOutcome, admit_first: bool, timeout: float) -> None:
    started = time.monotonic()
    try:
        outcome.rotation = runner.rotate_leaf(
            federation.run_dir, stack, say=lambda _: None, timeout=timeout, admit_first=admit_first
        )
    except LocalError as exc:
        outcome.rotation_error = str(exc)
    outcome.rotation_span = (started, time.monotonic())


def _await_route(publisher: clients.Mqtt, topic: str, outcome: LocalOutcome, lock: threading.Lock) -> None:
    """Probe (index -1) until the subscriber's interest has crossed the leaf, so the stream starts on a live route."""
    if not _delivered(publisher, f"{topic}/-1", -1, outcome, lock, clients.TIMEOUT):
        raise AssertionError(f"no route for {topic} from the CPC to the CSC subscriber within {clients.TIMEOUT:g} s")
    with lock:
        outcome.delivered.pop(-1)


def _delivered(
    publisher: clients.Mqtt, topic: str, index: int, outcome: LocalOutcome, lock: threading.Lock, give_up: float
) -> bool:
    deadline = time.monotonic() + give_up
    first = True
    while time.monotonic() < deadline:
        if not first:
            outcome.resent += 1
        first = False
        info = publisher.client.publish(topic, str(index).encode(), qos=1)
        resend_at = time.monotonic() + RESEND
        with contextlib.suppress(RuntimeError, ValueError):  # not connected: the CPC is restarting
            info.wait_for_publish(max(resend_at - time.monotonic(), 0.0))
        while time.monotonic() < resend_at:
            with lock:
                if index in outcome.delivered:
                    return True
            time.sleep(0.002)
    return False
