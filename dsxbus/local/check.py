"""The cross-layer routing matrix, over core NATS and MQTT 3.1.1, against a running local federation."""

from __future__ import annotations

import asyncio
import contextlib
import queue
import secrets
import ssl
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import nats
import nats.errors
import paho.mqtt.client as paho
from nats.aio.client import Client as Nats
from nats.aio.msg import Msg
from paho.mqtt.enums import CallbackAPIVersion

from dsxbus import naming, subjects
from dsxbus.local import servers
from dsxbus.local.plan import MQTT_ADMIN_USER
from dsxbus.local.runner import Cluster, Federation
from dsxbus.local.servers import LocalError

GRACE = 0.3
"""How long a subscriber that must get nothing is watched after the expected deliveries arrived."""
TIMEOUT = 5.0
"""How long an expected delivery may take (first deliveries wait for interest to cross the leafs)."""
UNLISTED = "local.check"


@dataclass(frozen=True)
class Result:
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


concrete = subjects.concrete_subject
topic = subjects.mqtt_topic  # NATS `a.b` is MQTT `a/b`


# ---- clients ----------------------------------------------------------------------------------------


async def _quiet(_: Exception) -> None:
    return None


async def nats_connect(cluster: Cluster, federation: Federation, account: str, **options: Any) -> Nats:
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


def mqtt_admin(cluster: Cluster, federation: Federation, **options: Any) -> Mqtt:
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


# ---- the matrix -------------------------------------------------------------------------------------


class _Clients:
    """NATS and MQTT clients opened for one check run, all closed at the end."""

    def __init__(self, federation: Federation) -> None:
        self.federation = federation
        self.nats: dict[tuple[str, str], Nats] = {}
        self.mqtt: list[Mqtt] = []

    async def nc(self, cluster: Cluster, account: str) -> Nats:
        key = (cluster.stack, account)
        if key not in self.nats:
            self.nats[key] = await nats_connect(cluster, self.federation, account)
        return self.nats[key]

    async def sink(self, cluster: Cluster, account: str, subject: str, want: int) -> Sink:
        return await nats_sink(await self.nc(cluster, account), subject, f"{cluster.stack}/{account} {subject}", want)

    def mq(self, cluster: Cluster) -> Mqtt:
        client = mqtt_admin(cluster, self.federation)
        self.mqtt.append(client)
        return client

    def mqtt_sink(self, cluster: Cluster, pattern: str, qos: int, want: int) -> Sink:
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
async def clients(federation: Federation) -> AsyncIterator[_Clients]:
    opened = _Clients(federation)
    try:
        yield opened
    finally:
        await opened.close()


def _nats_publisher(client: Nats, subject: str) -> Publish:
    async def publish(payload: bytes) -> None:
        await client.publish(subject, payload)
        await client.flush()

    return publish


def _mqtt_publisher(client: Mqtt, topic_name: str, qos: int) -> Publish:
    async def publish(payload: bytes) -> None:
        await asyncio.to_thread(client.publish, topic_name, payload, qos)

    return publish


async def core_routes(federation: Federation, c: _Clients) -> list[Awaitable[Result]]:
    """Core NATS: the three cross-layer flows, CPC isolation, one-way-ness and unlisted subjects."""
    csc, cpcs = federation.csc, federation.cpcs
    routes: list[Awaitable[Result]] = []
    broadcast_done: set[str] = set()
    for cpc in cpcs:
        others = [o for o in cpcs if o is not cpc]
        prefix = subjects.cpc_prefix(cpc.id)
        for pattern in cpc.lists["cpcExports"]:
            subject = concrete(pattern)
            sinks = [await c.sink(csc, naming.CSC, prefix + subject, 1), await c.sink(csc, naming.CSC, "cpc.*.>", 1)]
            for other in others:
                sinks += [await c.sink(other, naming.CPC, ">", 0), await c.sink(other, naming.CSC, ">", 0)]
            publish = _nats_publisher(await c.nc(cpc, naming.CPC), subject)
            routes.append(_later(f"nats {cpc.stack} {subject} -> csc {prefix}{subject}", publish, sinks))
        for pattern in cpc.lists["cscPrefixedExports"]:
            subject = concrete(pattern)
            sinks = [await c.sink(cpc, naming.CPC, subject, 1)]
            sinks += [await c.sink(o, naming.CPC, ">", 0) for o in others]
            publish = _nats_publisher(await c.nc(csc, naming.CSC), prefix + subject)
            routes.append(_later(f"nats csc {prefix}{subject} -> only {cpc.stack} {subject}", publish, sinks))
        for pattern in cpc.lists["cscExports"]:
            if pattern in broadcast_done:
                continue
            broadcast_done.add(pattern)
            subject = concrete(pattern)
            sinks = [await c.sink(o, naming.CPC, subject, 1) for o in cpcs if pattern in o.lists["cscExports"]]
            publish = _nats_publisher(await c.nc(csc, naming.CSC), subject)
            routes.append(_later(f"nats csc {subject} -> every cpc {subject}", publish, sinks))
        # One-way: a CSC publish on the prefixed telemetry subject does not flow down, a CPC
        # command does not flow up.
        for pattern in cpc.lists["cpcExports"][:1]:
            subject = concrete(pattern)
            sinks = [await c.sink(csc, naming.CSC, prefix + subject, 1), await c.sink(cpc, naming.CPC, ">", 0)]
            publish = _nats_publisher(await c.nc(csc, naming.CSC), prefix + subject)
            routes.append(_later(f"nats csc {prefix}{subject} stays on the csc", publish, sinks))
        for pattern in cpc.lists["cscPrefixedExports"][:1]:
            subject = concrete(pattern)
            sinks = [await c.sink(cpc, naming.CPC, subject, 1), await c.sink(csc, naming.CSC, ">", 0)]
            sinks += [await c.sink(o, naming.CPC, ">", 0) for o in others]
            publish = _nats_publisher(await c.nc(cpc, naming.CPC), subject)
            routes.append(_later(f"nats {cpc.stack} {subject} stays on {cpc.stack}", publish, sinks))
        local = f"{UNLISTED}.{cpc.id}"
        sinks = [await c.sink(cpc, naming.CPC, local, 1), await c.sink(csc, naming.CSC, ">", 0)]
        sinks += [await c.sink(o, naming.CPC, ">", 0) for o in others]
        publish = _nats_publisher(await c.nc(cpc, naming.CPC), local)
        routes.append(_later(f"nats {cpc.stack} {local} (in no list) stays local", publish, sinks))
    local = f"{UNLISTED}.csc"
    sinks = [await c.sink(csc, naming.CSC, local, 1)] + [await c.sink(o, naming.CPC, ">", 0) for o in cpcs]
    publish = _nats_publisher(await c.nc(csc, naming.CSC), local)
    routes.append(_later(f"nats csc {local} (in no list) stays local", publish, sinks))
    return routes


async def _later(name: str, publish: Publish, sinks: Sequence[Sink], note: str = "") -> Result:
    return await deliver(name, publish, sinks, note)


QOS1_UP_NOTE = (
    "measured upstream behaviour, FINDINGS item 2: a QoS 1 publish on a CPC is stored only in the CPC's "
    "$MQTT_msgs and no stream sources it into the CSC, so a QoS 1 subscriber on the CSC gets nothing"
)


async def mqtt_routes(federation: Federation, c: _Clients) -> list[Awaitable[Result]]:
    """MQTT 3.1.1 at QoS 0 and 1: topic `a/b` is subject `a.b`; CSC -> CPC QoS 1 goes through stream sourcing."""
    csc, cpcs = federation.csc, federation.cpcs
    routes: list[Awaitable[Result]] = []
    for cpc in cpcs:
        others = [o for o in cpcs if o is not cpc]
        prefix = subjects.cpc_prefix(cpc.id)
        for pattern in cpc.lists["cpcExports"][:1]:
            subject = concrete(pattern)
            up = topic(prefix + subject)
            sinks = [
                c.mqtt_sink(csc, up, 0, 1),
                c.mqtt_sink(csc, up, 1, 1),
                await c.sink(csc, naming.CSC, prefix + subject, 1),
            ]
            publish = _mqtt_publisher(c.mq(cpc), topic(subject), 0)
            routes.append(_later(f"mqtt q0 {cpc.stack} {topic(subject)} -> csc {up}", publish, sinks))
            sinks = [c.mqtt_sink(csc, up, 0, 1), c.mqtt_sink(csc, up, 1, 0)]
            sinks += [c.mqtt_sink(o, "#", 0, 0) for o in others]
            publish = _mqtt_publisher(c.mq(cpc), topic(subject), 1)
            routes.append(
                _later(
                    f"mqtt q1 {cpc.stack} {topic(subject)} -> csc {up}",
                    publish,
                    sinks,
                    "q1 subscriber: 0, " + QOS1_UP_NOTE,
                )
            )
        for pattern in cpc.lists["cscPrefixedExports"][:1]:
            subject = concrete(pattern)
            sinks = [c.mqtt_sink(cpc, topic(subject), 1, 1), c.mqtt_sink(cpc, topic(subject), 0, 1)]
            sinks += [await c.sink(cpc, naming.CPC, subject, 1)]
            sinks += [c.mqtt_sink(o, "#", 1, 0) for o in others]
            for qos in (0, 1):
                publish = _mqtt_publisher(c.mq(csc), topic(prefix + subject), qos)
                routes.append(
                    _later(
                        f"mqtt q{qos} csc {topic(prefix + subject)} -> only {cpc.stack} {topic(subject)}",
                        publish,
                        [Sink(s.label, s.want, s.got, s.qos) for s in sinks],
                    )
                )
    patterns = sorted({p for cpc in cpcs for p in cpc.lists["cscExports"]})[:1]
    for pattern in patterns:
        subject = concrete(pattern)
        sinks = [c.mqtt_sink(o, topic(subject), 1, 1) for o in cpcs if pattern in o.lists["cscExports"]]
        publish = _mqtt_publisher(c.mq(csc), topic(subject), 1)
        routes.append(_later(f"mqtt q1 csc {topic(subject)} -> every cpc", publish, sinks))
    return routes


def _first_retained(client: Mqtt, pattern: str, wait: float) -> Delivery | None:
    client.subscribe(pattern, 1)
    try:
        delivery = client.messages.get(timeout=wait)
    except queue.Empty:
        return None
    return delivery


def retained_routes(federation: Federation) -> Iterator[Result]:
    """Retained CSC -> CPC arrives retained (stream sourcing); retained CPC -> CSC does not."""
    csc = federation.csc
    for cpc in federation.cpcs[:1]:
        prefix = subjects.cpc_prefix(cpc.id)
        tag = secrets.token_hex(4)
        for pattern in cpc.lists["cscPrefixedExports"][:1]:
            subject = f"{concrete(pattern)}.r{tag}"
            publisher = mqtt_admin(csc, federation)
            try:
                publisher.publish(topic(prefix + subject), b"retained-down", qos=1, retain=True)
                got = _poll_retained(cpc, federation, topic(subject), want=True)
                name = f"mqtt retained csc {topic(prefix + subject)} -> {cpc.stack} {topic(subject)}"
                ok = got is not None and got.retain and got.payload == b"retained-down"
                yield Result(name, ok, "delivered with retain=1" if ok else f"got {got}")
                publisher.publish(topic(prefix + subject), b"", qos=1, retain=True)  # clear it
            finally:
                publisher.close()
        for pattern in cpc.lists["cpcExports"][:1]:
            subject = f"{concrete(pattern)}.r{tag}"
            publisher = mqtt_admin(cpc, federation)
            try:
                publisher.publish(topic(subject), b"retained-up", qos=1, retain=True)
                local = _poll_retained(cpc, federation, topic(subject), want=True)
                remote = _poll_retained(csc, federation, topic(prefix + subject), want=False)
                name = f"mqtt retained {cpc.stack} {topic(subject)} -> csc not delivered"
                ok = local is not None and local.retain and remote is None
                seen = "nothing" if remote is None else remote
                detail = f"{cpc.stack} subscriber got it retained, csc subscriber got {seen}"
                yield Result(name, ok, detail + " (as upstream's peer test expects)")
                publisher.publish(topic(subject), b"", qos=1, retain=True)
            finally:
                publisher.close()


def _poll_retained(cluster: Cluster, federation: Federation, pattern: str, *, want: bool) -> Delivery | None:
    """A fresh subscriber's retained message; retried until the sourced copy has arrived (want) or
    watched for GRACE*3 (not want)."""
    deadline = time.monotonic() + (TIMEOUT if want else 0)
    while True:
        client = mqtt_admin(cluster, federation)
        try:
            got = _first_retained(client, pattern, 0.5 if want else GRACE * 3)
        finally:
            client.close()
        if got is not None or time.monotonic() >= deadline:
            return got


async def _run(federation: Federation, *, mqtt: bool = True, retained: bool = True) -> list[Result]:
    async with clients(federation) as c:
        routes = await core_routes(federation, c)
        if mqtt:
            routes += await mqtt_routes(federation, c)
        await c.flush()
        results = list(await asyncio.gather(*routes))
    if retained:
        results += await asyncio.to_thread(lambda: list(retained_routes(federation)))
    return results


def run(federation: Federation, *, mqtt: bool = True, retained: bool = True) -> list[Result]:
    """Every route, pass or fail. A federation that is down or dies meanwhile is a LocalError."""
    stopped = [s.name for s in federation.servers() if not servers.is_running(s)]
    if stopped:
        raise LocalError(f"not running: {', '.join(stopped)}; restart with `dsx-bus local down && dsx-bus local up`")
    try:
        return asyncio.run(_run(federation, mqtt=mqtt, retained=retained and mqtt))
    except (OSError, TimeoutError, nats.errors.Error) as exc:
        raise LocalError(f"the federation stopped answering during the check: {exc!r}") from exc
