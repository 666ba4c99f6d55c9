"""The cross-layer routing matrix, over core NATS and MQTT 3.1.1, against a running local federation:
what `dsx-bus local check` runs."""

from __future__ import annotations

import asyncio
import queue
import secrets
import time
from collections.abc import Awaitable, Iterator, Sequence

import nats.errors

from dsxbus import naming, subjects
from dsxbus.local import servers
from dsxbus.local.clients import (
    GRACE,
    TIMEOUT,
    Clients,
    Delivery,
    Mqtt,
    Publish,
    Result,
    Sink,
    deliver,
    mqtt_admin,
    mqtt_publisher,
    nats_publisher,
    opened,
)
from dsxbus.local.servers import LocalError
from dsxbus.local.state import Federation, LocalCluster

UNLISTED = "local.check"
"""Prefix of subjects in no cross-layer list: they must stay on the cluster that publishes them."""

concrete = subjects.concrete_subject
topic = subjects.mqtt_topic  # NATS `a.b` is MQTT `a/b`


async def core_routes(federation: Federation, c: Clients) -> list[Awaitable[Result]]:
    """Core NATS: the three cross-layer flows, CPC isolation, one-way-ness and unlisted subjects."""
    csc, cpcs = federation.csc, federation.cpcs
    routes: list[Awaitable[Result]] = []
    broadcast_done: set[str] = set()
    for cpc in cpcs:
        others = [o for o in cpcs if o is not cpc]
        prefix = subjects.cpc_prefix(cpc.id)
        for pattern in cpc.lists.cpc_exports:
            subject = concrete(pattern)
            sinks = [await c.sink(csc, naming.CSC, prefix + subject, 1), await c.sink(csc, naming.CSC, "cpc.*.>", 1)]
            for other in others:
                sinks += [await c.sink(other, naming.CPC, ">", 0), await c.sink(other, naming.CSC, ">", 0)]
            publish = nats_publisher(await c.nc(cpc, naming.CPC), subject)
            routes.append(_later(f"nats {cpc.stack} {subject} -> csc {prefix}{subject}", publish, sinks))
        for pattern in cpc.lists.csc_prefixed_exports:
            subject = concrete(pattern)
            sinks = [await c.sink(cpc, naming.CPC, subject, 1)]
            sinks += [await c.sink(o, naming.CPC, ">", 0) for o in others]
            publish = nats_publisher(await c.nc(csc, naming.CSC), prefix + subject)
            routes.append(_later(f"nats csc {prefix}{subject} -> only {cpc.stack} {subject}", publish, sinks))
        for pattern in cpc.lists.csc_exports:
            if pattern in broadcast_done:
                continue
            broadcast_done.add(pattern)
            subject = concrete(pattern)
            sinks = [await c.sink(o, naming.CPC, subject, 1) for o in cpcs if pattern in o.lists.csc_exports]
            publish = nats_publisher(await c.nc(csc, naming.CSC), subject)
            routes.append(_later(f"nats csc {subject} -> every cpc {subject}", publish, sinks))
        # One-way: a CSC publish on the prefixed telemetry subject does not flow down, a CPC
        # command does not flow up.
        for pattern in cpc.lists.cpc_exports[:1]:
            subject = concrete(pattern)
            sinks = [await c.sink(csc, naming.CSC, prefix + subject, 1), await c.sink(cpc, naming.CPC, ">", 0)]
            publish = nats_publisher(await c.nc(csc, naming.CSC), prefix + subject)
            routes.append(_later(f"nats csc {prefix}{subject} stays on the csc", publish, sinks))
        for pattern in cpc.lists.csc_prefixed_exports[:1]:
            subject = concrete(pattern)
            sinks = [await c.sink(cpc, naming.CPC, subject, 1), await c.sink(csc, naming.CSC, ">", 0)]
            sinks += [await c.sink(o, naming.CPC, ">", 0) for o in others]
            publish = nats_publisher(await c.nc(cpc, naming.CPC), subject)
            routes.append(_later(f"nats {cpc.stack} {subject} stays on {cpc.stack}", publish, sinks))
        local = f"{UNLISTED}.{cpc.id}"
        sinks = [await c.sink(cpc, naming.CPC, local, 1), await c.sink(csc, naming.CSC, ">", 0)]
        sinks += [await c.sink(o, naming.CPC, ">", 0) for o in others]
        publish = nats_publisher(await c.nc(cpc, naming.CPC), local)
        routes.append(_later(f"nats {cpc.stack} {local} (in no list) stays local", publish, sinks))
    local = f"{UNLISTED}.csc"
    sinks = [await c.sink(csc, naming.CSC, local, 1)] + [await c.sink(o, naming.CPC, ">", 0) for o in cpcs]
    publish = nats_publisher(await c.nc(csc, naming.CSC), local)
    routes.append(_later(f"nats csc {local} (in no list) stays local", publish, sinks))
    return routes


async def _later(name: str, publish: Publish, sinks: Sequence[Sink], note: str = "") -> Result:
    return await deliver(name, publish, sinks, note)


QOS1_UP_NOTE = (
    "measured upstream behaviour without mqttStreams.uplinks on the CSC, docs/measured-facts.md §1: a QoS 1 publish "
    "on a CPC is stored only in the CPC's $MQTT_msgs and no stream sources it into the CSC, so a QoS 1 subscriber on "
    "the CSC gets nothing"
)


async def mqtt_routes(federation: Federation, c: Clients) -> list[Awaitable[Result]]:
    """MQTT 3.1.1 at QoS 0 and 1: topic `a/b` is subject `a.b`; QoS 1 goes through stream sourcing CSC -> CPC, and
    CPC -> CSC only with the CSC's mqttStreams.uplinks."""
    csc, cpcs = federation.csc, federation.cpcs
    routes: list[Awaitable[Result]] = []
    for cpc in cpcs:
        others = [o for o in cpcs if o is not cpc]
        prefix = subjects.cpc_prefix(cpc.id)
        for pattern in cpc.lists.cpc_exports[:1]:
            subject = concrete(pattern)
            up = topic(prefix + subject)
            sinks = [
                c.mqtt_sink(csc, up, 0, 1),
                c.mqtt_sink(csc, up, 1, 1),
                await c.sink(csc, naming.CSC, prefix + subject, 1),
            ]
            publish = mqtt_publisher(c.mq(cpc), topic(subject), 0)
            routes.append(_later(f"mqtt q0 {cpc.stack} {topic(subject)} -> csc {up}", publish, sinks))
            # QoS 1 up goes through the CSC's uplink stream sources: once to either subscriber, never twice. Without
            # uplinks only the core copy crosses: QoS 0 subscribers get it, QoS 1 ones do not (upstream).
            sinks = [c.mqtt_sink(csc, up, 0, 1), c.mqtt_sink(csc, up, 1, 1 if csc.uplinks else 0)]
            # Isolation: not under another CPC's prefix on the CSC, nor on another CPC at either QoS.
            sinks += [c.mqtt_sink(csc, topic(subjects.cpc_prefix(o.id)) + "#", 1, 0) for o in others]
            sinks += [c.mqtt_sink(o, "#", qos, 0) for o in others for qos in (0, 1)]
            publish = mqtt_publisher(c.mq(cpc), topic(subject), 1)
            note = "" if csc.uplinks else "q1 subscriber: 0, " + QOS1_UP_NOTE
            routes.append(_later(f"mqtt q1 {cpc.stack} {topic(subject)} -> csc {up}", publish, sinks, note))
        for pattern in cpc.lists.csc_prefixed_exports[:1]:
            subject = concrete(pattern)
            sinks = [c.mqtt_sink(cpc, topic(subject), 1, 1), c.mqtt_sink(cpc, topic(subject), 0, 1)]
            sinks += [await c.sink(cpc, naming.CPC, subject, 1)]
            sinks += [c.mqtt_sink(o, "#", 1, 0) for o in others]
            for qos in (0, 1):
                publish = mqtt_publisher(c.mq(csc), topic(prefix + subject), qos)
                routes.append(
                    _later(
                        f"mqtt q{qos} csc {topic(prefix + subject)} -> only {cpc.stack} {topic(subject)}",
                        publish,
                        [Sink(s.label, s.want, s.got, s.qos) for s in sinks],
                    )
                )
    patterns = sorted({p for cpc in cpcs for p in cpc.lists.csc_exports})[:1]
    for pattern in patterns:
        subject = concrete(pattern)
        sinks = [c.mqtt_sink(o, topic(subject), 1, 1) for o in cpcs if pattern in o.lists.csc_exports]
        publish = mqtt_publisher(c.mq(csc), topic(subject), 1)
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
    """Retained messages arrive retained (stream sourcing): CSC `cpc/<id>/X` on CPC `<id>` as `X`, and with the CSC's
    mqttStreams.uplinks a CPC's `X` (a cpcExports subject) on the CSC as `cpc/<id>/X` (without: not at all)."""
    csc = federation.csc
    for cpc in federation.cpcs[:1]:
        prefix = subjects.cpc_prefix(cpc.id)
        tag = secrets.token_hex(4)
        for pattern in cpc.lists.csc_prefixed_exports[:1]:
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
        for pattern in cpc.lists.cpc_exports[:1]:
            subject = f"{concrete(pattern)}.r{tag}"
            publisher = mqtt_admin(cpc, federation)
            try:
                publisher.publish(topic(subject), b"retained-up", qos=1, retain=True)
                local = _poll_retained(cpc, federation, topic(subject), want=True)
                remote = _poll_retained(csc, federation, topic(prefix + subject), want=csc.uplinks)
                yield _retained_up(cpc.stack, topic(subject), topic(prefix + subject), local, remote, csc.uplinks)
                publisher.publish(topic(subject), b"", qos=1, retain=True)
            finally:
                publisher.close()


def _retained_up(
    stack: str, sent: str, up: str, local: Delivery | None, remote: Delivery | None, uplinks: bool
) -> Result:
    """A CPC's retained publish: retained on the CPC, and on the CSC exactly when it has uplinks."""
    held = local is not None and local.retain and local.payload == b"retained-up"
    if uplinks:
        ok = held and remote is not None and remote.retain and remote.payload == b"retained-up"
        return Result(f"mqtt retained {stack} {sent} -> csc {up}", ok, f"{stack} subscriber got {local}, csc {remote}")
    seen = "nothing" if remote is None else remote
    detail = f"{stack} subscriber got it retained, csc subscriber got {seen} (as upstream; no mqttStreams.uplinks)"
    return Result(f"mqtt retained {stack} {sent} -> csc not delivered", held and remote is None, detail)


def _poll_retained(cluster: LocalCluster, federation: Federation, pattern: str, *, want: bool) -> Delivery | None:
    """A fresh subscriber's retained message; retried until the sourced copy has arrived (want) or
    watched for GRACE*3 (not want)."""
    deadline = time.monotonic() + (TIMEOUT if want else 0)
    while True:
        client = mqtt_admin(cluster, federation)
        try:
            got = _first_retained(client, pattern, 0.5 if want else GRACE * 3)
        finally:
            client.close()
        # A copy sourced while this subscriber was subscribing arrives live (retain=0): ask a fresh one again.
        arrived_live = want and got is not None and not got.retain
        if (got is not None and not arrived_live) or time.monotonic() >= deadline:
            return got


async def _run(federation: Federation, *, mqtt: bool = True, retained: bool = True) -> list[Result]:
    async with opened(federation) as c:
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
        raise LocalError(f"not running: {', '.join(stopped)}; start them again with `dsx-bus local restart <stack>`")
    try:
        return asyncio.run(_run(federation, mqtt=mqtt, retained=retained and mqtt))
    except (OSError, TimeoutError, nats.errors.Error) as exc:
        raise LocalError(f"the federation stopped answering during the check: {exc!r}") from exc
