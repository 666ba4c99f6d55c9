"""Clients of a running local federation, over core NATS and MQTT 3.1.1: connect, collect deliveries in sinks,
publish, and tell whether one message went where it should (`deliver`)."""

from __future__ import annotations

import asyncio
import contextlib
import queue
import secrets
import ssl
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import nats
import paho.mqtt.client as paho
from nats.aio.client import Client as Nats
from nats.aio.msg import Msg
from paho.mqtt.enums import CallbackAPIVersion

from dsxbus.local.plan import MQTT_ADMIN_USER
from dsxbus.local.state import Federation, LocalCluster

GRACE = 0.3
"""How long a subscriber that must get nothing is watched after the expected deliveries arrived."""
TIMEOUT = 5.0
"""How long an expected delivery may take (first deliveries wait for interest to cross the leafs)."""


@dataclass(frozen=True)
class Result:
    """One route's verdict: its name, pass or fail, and what its sinks got (or what went wrong)."""

    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class Delivery:
    subject: str
    payload: bytes
    qos: int = 0
    retain: bool = False


@dataclass
class Sink:
    """One subscription's deliveries (NATS or MQTT), and how many of a route's message it must get."""

    label: str
    want: int
    got: list[Delivery] = field(default_factory=list)
    qos: int | None = None

    def count(self, payload: bytes) -> int:
        return sum(1 for d in self.got if d.payload == payload)

    def tagged(self, token: bytes) -> int:
        return sum(1 for d in self.got if token in d.payload)


# ---- connecting -----------------------------------------------------------------------------------


async def _quiet(_: Exception) -> None:
    return None


async def nats_connect(cluster: LocalCluster, federation: Federation, account: str, **options: Any) -> Nats:
    """A full-access client in `account` on the cluster's main server (the local admin nkey)."""
    seed = federation.keys[cluster.stack].admin[account].seed
    options.setdefault("error_cb", _quiet)
    client: Nats = await nats.connect(
        cluster.main.url("client"), nkeys_seed_str=seed, connect_timeout=5, max_reconnect_attempts=5, **options
    )
    return client


async def nats_sink(client: Nats, subject: str, label: str, want: int) -> Sink:
    sink = Sink(label, want)

    async def on_message(msg: Msg) -> None:
        sink.got.append(Delivery(msg.subject, msg.data))

    await client.subscribe(subject, cb=on_message)
    return sink


class Mqtt:
    """A paho MQTT 3.1.1 client whose connect, subscribe and QoS 1 publish wait for the broker's answer."""

    def __init__(
        self,
        port: int,
        *,
        username: str | None = None,
        password: str | None = None,
        client_id: str | None = None,
        clean_session: bool = True,
        tls: tuple[str, str | None, str | None] | None = None,
    ) -> None:
        self.port = port
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or f"dsx-check-{secrets.token_hex(4)}",
            protocol=paho.MQTTv311,
            clean_session=clean_session,
        )
        if username is not None:
            self.client.username_pw_set(username, password)
        if tls is not None:
            ca, cert, key = tls
            context = ssl.create_default_context(cafile=ca)
            if cert and key:
                context.load_cert_chain(cert, key)
            self.client.tls_set_context(context)
        self.messages: queue.Queue[Delivery] = queue.Queue()
        self.sinks: list[tuple[str, Sink]] = []
        self._connected = threading.Event()
        self._connect_code: Any = None
        self._subacks: dict[int, list[int]] = {}
        self._suback = threading.Condition()
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.client.on_disconnect = self._on_disconnect

    def _on_connect(self, _c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self._connect_code = reason
        self._connected.set()

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if not self._connected.is_set():  # closed before any CONNACK: a refused TLS handshake, say
            self._connect_code = reason
            self._connected.set()

    def _on_message(self, _c: Any, _u: Any, message: Any) -> None:
        delivery = Delivery(message.topic, bytes(message.payload), message.qos, bool(message.retain))
        self.messages.put(delivery)
        for pattern, sink in self.sinks:
            if paho.topic_matches_sub(pattern, message.topic):
                sink.got.append(delivery)

    def _on_subscribe(self, _c: Any, _u: Any, mid: int, reasons: Any, _p: Any) -> None:
        with self._suback:
            self._subacks[mid] = [int(r.value) for r in reasons]
            self._suback.notify_all()

    def connect(self, timeout: float = TIMEOUT) -> None:
        """Raise ConnectionError with the broker's reason if it refuses (e.g. "Not authorized")."""
        self.client.connect("127.0.0.1", self.port, keepalive=30)
        self.client.loop_start()
        if not self._connected.wait(timeout):
            self.close()
            raise ConnectionError(f"no CONNACK from 127.0.0.1:{self.port} within {timeout:g} s")
        if self._connect_code is None or self._connect_code.is_failure or not self.client.is_connected():
            self.close()
            raise ConnectionError(f"MQTT connection refused: {self._connect_code}")

    def subscribe(self, pattern: str, qos: int, sink: Sink | None = None) -> int:
        """The granted QoS from the SUBACK (128 = refused)."""
        if sink is not None:
            sink.qos = qos
            self.sinks.append((pattern, sink))
        code, mid = self.client.subscribe(pattern, qos)
        if mid is None:
            raise ConnectionError(f"MQTT subscribe to {pattern} failed: {code}")
        with self._suback:
            if not self._suback.wait_for(lambda: mid in self._subacks, TIMEOUT):
                raise TimeoutError(f"no SUBACK for {pattern}")
            return self._subacks[mid][0]

    def publish(self, topic_name: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
        info = self.client.publish(topic_name, payload, qos=qos, retain=retain)
        info.wait_for_publish(TIMEOUT)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.disconnect()
        self.client.loop_stop()


def mqtt_admin(cluster: LocalCluster, federation: Federation, **options: Any) -> Mqtt:
    """A full-access MQTT client in the cluster's domain account (the local `local-mqtt` user)."""
    client = Mqtt(
        cluster.main.ports["mqtt"],
        username=MQTT_ADMIN_USER,
        password=federation.keys[cluster.stack].mqtt_password,
        **options,
    )
    client.connect()
    return client


# ---- one route --------------------------------------------------------------------------------------


Publish = Callable[[bytes], Awaitable[None]]


def nats_publisher(client: Nats, subject: str) -> Publish:
    async def publish(payload: bytes) -> None:
        await client.publish(subject, payload)
        await client.flush()

    return publish


def mqtt_publisher(client: Mqtt, topic_name: str, qos: int) -> Publish:
    async def publish(payload: bytes) -> None:
        await asyncio.to_thread(client.publish, topic_name, payload, qos)

    return publish


async def deliver(name: str, publish: Publish, sinks: Sequence[Sink], note: str = "") -> Result:
    """Probe until every sink that must get the message gets a probe (interest has crossed the
    leafs), then publish the real message once and count it on every sink."""
    token = f"{name}|{secrets.token_hex(6)}".encode()
    positive = [s for s in sinks if s.want > 0]
    deadline = time.monotonic() + TIMEOUT
    probe = 0
    while positive and not all(s.tagged(token + b"|probe") for s in positive):
        if time.monotonic() > deadline:
            missing = ", ".join(s.label for s in positive if not s.tagged(token + b"|probe"))
            return Result(name, False, f"nothing reached {missing} within {TIMEOUT:g} s")
        await publish(token + b"|probe|" + str(probe).encode())
        probe += 1
        await asyncio.sleep(0.05)
    real = token + b"|real"
    await publish(real)
    deadline = time.monotonic() + TIMEOUT
    while not all(s.count(real) >= s.want for s in positive) and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    await asyncio.sleep(GRACE)  # duplicates, and anything a sink that must get nothing receives
    wrong = []
    for sink in sinks:
        have = sink.count(real) if sink.want else sink.tagged(token)
        if have != sink.want:
            wrong.append(f"{sink.label} got {have}, expected {sink.want}")
    if wrong:
        return Result(name, False, "; ".join(wrong))
    shown = ", ".join(f"{s.label}={s.want}" for s in sinks)
    return Result(name, True, shown + (f" ({note})" if note else ""))


# ---- one run's clients -----------------------------------------------------------------------------


class Clients:
    """NATS and MQTT clients opened for one run (a check, a test), all closed at the end."""

    def __init__(self, federation: Federation) -> None:
        self.federation = federation
        self.nats: dict[tuple[str, str], Nats] = {}
        self.mqtt: list[Mqtt] = []

    async def nc(self, cluster: LocalCluster, account: str) -> Nats:
        key = (cluster.stack, account)
        if key not in self.nats:
            self.nats[key] = await nats_connect(cluster, self.federation, account)
        return self.nats[key]

    async def sink(self, cluster: LocalCluster, account: str, subject: str, want: int) -> Sink:
        return await nats_sink(await self.nc(cluster, account), subject, f"{cluster.stack}/{account} {subject}", want)

    def mq(self, cluster: LocalCluster) -> Mqtt:
        client = mqtt_admin(cluster, self.federation)
        self.mqtt.append(client)
        return client

    def mqtt_sink(self, cluster: LocalCluster, pattern: str, qos: int, want: int) -> Sink:
        sink = Sink(f"{cluster.stack} mqtt q{qos} {pattern}", want)
        self.mq(cluster).subscribe(pattern, qos, sink)
        return sink

    async def flush(self) -> None:
        for client in self.nats.values():
            await client.flush()

    async def close(self) -> None:
        for client in self.nats.values():
            with contextlib.suppress(Exception):
                await client.close()
        for mqtt in self.mqtt:
            mqtt.close()


@contextlib.asynccontextmanager
async def opened(federation: Federation) -> AsyncIterator[Clients]:
    """Clients for the block, opened as it asks for them and closed however it ends."""
    clients = Clients(federation)
    try:
        yield clients
    finally:
        await clients.close()
