"""The MQTT JetStream streams (INVENTORY §5): as NACK Stream CR specs and as JetStream API configs.

They must exist before any MQTT client connects: measured, if a client connects first the server
creates them itself, without the CPC `sources`, and QoS 1 / retained CSC -> CPC delivery silently
never happens.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dsxbus import naming
from dsxbus.config import EventBus, MqttStreams
from dsxbus.crosslayer import CrossLayer
from dsxbus.durations import duration_ns
from dsxbus.subjects import cpc_jetstream_api, cpc_prefix, sourcing_prefix, uplink_prefix, upsourcing_prefix
from dsxbus.topology import (
    MQTT_API,
    SOURCED_KINDS,
    SOURCES_API,
    SOURCES_DELIVER_PREFIX,
    cpc_account_api,
    cpc_source_stream,
    cpc_uplink_stream,
    mqtt_stream,
)


@dataclass(frozen=True)
class External:
    """Where a sourced stream lives when it is in another JetStream domain (the CSC, across the leaf)."""

    api_prefix: str
    deliver_prefix: str


@dataclass(frozen=True)
class Source:
    """A stream sourcing another: `transforms` are (source subject, destination) pairs; destination "" keeps it."""

    name: str
    external: External | None
    transforms: tuple[tuple[str, str], ...]
    of_uplink: bool = False
    """The CSC account's MQTT stream sourcing one CPC's uplink stream (in that CPC's account)."""


@dataclass(frozen=True)
class MqttStream:
    resource_name: str
    """The NACK Stream object's name (`mqtt-msgs`)."""
    name: str
    """The JetStream stream name MQTT looks for (`$MQTT_msgs`)."""
    subjects: tuple[str, ...]
    has_max_age: bool = True
    max_msgs_per_subject: int | None = None
    sources: tuple[Source, ...] = ()
    per_cpc: bool = False
    """A CPC's source stream on the CSC: sized by mqttStreams.perCpcMaxBytes, kept in the SOURCES account."""
    uplink_of: str | None = None
    """On the CSC, what it sources of CPC `uplink_of`'s stream: sized by mqttStreams.perCpcMaxBytes, in that CPC's
    account (naming.cpc_account)."""

    @property
    def uplink(self) -> bool:
        return self.uplink_of is not None

    @property
    def account(self) -> str | None:
        """The account the stream is in when it is not the cluster's domain account."""
        if self.uplink_of is not None:
            return naming.cpc_account(self.uplink_of)
        return naming.SOURCES if self.per_cpc else None

    @property
    def api_domain(self) -> str | None:
        """The JetStream domain NACK (signed in to SOURCES as `nack-sources`) names to reach this stream's account
        (`$JS.<domain>.API`), when that is not the account it signs in to: an uplink stream's."""
        if self.uplink_of is None:
            return None
        return cpc_account_api(self.uplink_of).removeprefix("$JS.").removesuffix(".API")

    @property
    def for_one_cpc(self) -> bool:
        """On the CSC, one CPC's stream: its lists decide it."""
        return self.per_cpc or self.uplink

    def max_bytes(self, settings: MqttStreams) -> int:
        return settings.per_cpc_max_bytes if self.for_one_cpc else settings.max_bytes


_STREAMS = (
    ("mqtt-msgs", "msgs", "$MQTT.msgs.>", True, None),
    ("mqtt-rmsgs", "rmsgs", "$MQTT.rmsgs.>", True, 1),
    ("mqtt-sess", "sess", "$MQTT.sess.>", False, None),  # sessions must not age out
    ("mqtt-qos2in", "qos2in", "$MQTT.qos2.in.>", True, None),
    ("mqtt-out", "out", "$MQTT.out.>", True, None),
)


def _transforms(kind: str, cluster_id: str, lists: CrossLayer) -> tuple[tuple[str, str], ...]:
    """What of the CSC's `$MQTT_<kind>` reaches CPC `cluster_id`, and as what (its cross-layer lists)."""
    # `dest: ""` keeps the subject as is; kept literally for server-side-apply parity with NACK.
    transforms = tuple((f"$MQTT.{kind}.{e}", "") for e in lists.csc_exports)
    transforms += tuple(
        (f"$MQTT.{kind}.{cpc_prefix(cluster_id)}{p}", f"$MQTT.{kind}.{p}") for p in lists.csc_prefixed_exports
    )
    return transforms


def _cpc_source(kind: str, cluster_id: str, lists: CrossLayer) -> Source:
    external = External(SOURCES_API, sourcing_prefix(cluster_id))
    return Source(cpc_source_stream(kind, cluster_id), external, _transforms(kind, cluster_id, lists))


def _per_cpc_stream(kind: str, cluster_id: str, lists: CrossLayer) -> MqttStream:
    """On the CSC: the part of `$MQTT_<kind>` one CPC sources, kept apart so its leaf reaches nothing else.

    It lives in the SOURCES account (topology.sources_accounts) and sources the CSC account's stream across
    accounts. It filters and leaves subjects as they are; the CPC's source strips the `cpc.<id>.` prefix.
    """
    filters = tuple((src, "") for src, _ in _transforms(kind, cluster_id, lists))
    per_subject = next(p for _, k, _, _, p in _STREAMS if k == kind)
    return MqttStream(
        f"mqtt-{kind}-cpc-{cluster_id}",
        cpc_source_stream(kind, cluster_id),
        (),  # sourced only: it captures no live publish
        True,
        per_subject,
        (Source(mqtt_stream(kind), External(MQTT_API, SOURCES_DELIVER_PREFIX), filters),),
        per_cpc=True,
    )


def streams_per_cpc(bus: EventBus) -> int:
    """On the CSC, per listed CPC: what it sources (SOURCES account) and, with mqttStreams.uplinks, what the CSC
    sources of it (its uplinks). None on a CPC."""
    if bus.cluster_type != "csc":
        return 0
    return (2 if bus.mqtt_streams.uplinks_enabled else 1) * len(SOURCED_KINDS)


def _uplink_stream(kind: str, cluster_id: str, lists: CrossLayer) -> MqttStream:
    """On the CSC: CPC `cluster_id`'s `$MQTT_<kind>`, as far as its cpcExports reach, under `cpc.<id>.` subjects.

    What a QoS 1 (or retained) publish on the CPC becomes on the CSC: the CPC keeps it in its own stream until
    this source has it, so it crosses however long the leaf is down. It lives in that CPC's account on the CSC,
    where the CPC's leaf lands (topology.csc_accounts); the CSC's `$MQTT_<kind>` sources it on across accounts
    (`_uplink_source`), where the CSC's QoS 1 subscribers read it.
    """
    transforms = tuple((f"$MQTT.{kind}.{e}", f"$MQTT.{kind}.{cpc_prefix(cluster_id)}{e}") for e in lists.cpc_exports)
    per_subject = next(p for _, k, _, _, p in _STREAMS if k == kind)
    external = External(cpc_jetstream_api(cluster_id).removesuffix(".>"), upsourcing_prefix(cluster_id))
    return MqttStream(
        f"mqtt-{kind}-from-cpc-{cluster_id}",
        cpc_uplink_stream(kind, cluster_id),
        (),  # sourced only
        True,
        per_subject,
        (Source(mqtt_stream(kind), external, transforms),),
        uplink_of=cluster_id,
    )


def _uplink_source(kind: str, cluster_id: str) -> Source:
    """The CSC's `$MQTT_<kind>` takes of an uplink stream only the CPC's own namespace (topology.cpc_uplink_stream)."""
    external = External(cpc_account_api(cluster_id), uplink_prefix(cluster_id))
    own = ((f"$MQTT.{kind}.{cpc_prefix(cluster_id)}>", ""),)
    return Source(cpc_uplink_stream(kind, cluster_id), external, own, of_uplink=True)


def mqtt_streams(bus: EventBus, cpc_lists: Mapping[str, CrossLayer] | None = None) -> tuple[MqttStream, ...]:
    """The five MQTT streams of one cluster; on a CPC, msgs and rmsgs source the CSC's stream for that CPC.

    On the CSC, per listed CPC its two source streams follow (`cpc_lists`: each CPC's own lists; the fleet defaults
    for a CPC not given); with mqttStreams.uplinks also its two uplink streams, which msgs and rmsgs source.
    """
    streams = []
    for resource, kind, subject, has_max_age, per_subject in _STREAMS:
        sources: tuple[Source, ...] = ()
        if bus.cluster_type == "cpc" and kind in SOURCED_KINDS:
            sources = (_cpc_source(kind, bus.cluster_id or "", bus.effective_cross_layer),)
        if bus.cluster_type == "csc" and bus.mqtt_streams.uplinks_enabled and kind in SOURCED_KINDS:
            sources = tuple(_uplink_source(kind, cluster_id) for cluster_id in bus.cpc_ids)
        streams.append(MqttStream(resource, mqtt_stream(kind), (subject,), has_max_age, per_subject, sources))
    if bus.cluster_type == "csc":
        lists = cpc_lists or {}
        for cluster_id in bus.cpc_ids:
            streams += _one_cpc_streams(bus, cluster_id, lists.get(cluster_id, bus.effective_cross_layer))
    return tuple(streams)


def _one_cpc_streams(bus: EventBus, cluster_id: str, lists: CrossLayer) -> list[MqttStream]:
    found = [_per_cpc_stream(kind, cluster_id, lists) for kind in SOURCED_KINDS]
    if bus.mqtt_streams.uplinks_enabled:
        found += [_uplink_stream(kind, cluster_id, lists) for kind in SOURCED_KINDS]
    return found


def _nack_source(source: Source) -> dict[str, Any]:
    spec: dict[str, Any] = {"name": source.name}
    if source.external is not None:
        spec["externalApiPrefix"] = source.external.api_prefix
        spec["externalDeliverPrefix"] = source.external.deliver_prefix
    spec["subjectTransforms"] = [{"source": src, "dest": dest} for src, dest in source.transforms]
    return spec


def _api_source(source: Source) -> dict[str, Any]:
    config: dict[str, Any] = {"name": source.name}
    if source.external is not None:
        config["external"] = {"api": source.external.api_prefix, "deliver": source.external.deliver_prefix}
    config["subject_transforms"] = [{"src": src, "dest": dest} for src, dest in source.transforms]
    return config


def nack_spec(stream: MqttStream, settings: MqttStreams) -> dict[str, Any]:
    """`spec` of a `jetstream.nats.io/v1beta2` Stream."""
    spec: dict[str, Any] = {"name": stream.name}
    if stream.subjects:
        spec["subjects"] = list(stream.subjects)
    spec |= {
        "storage": settings.storage,
        "replicas": settings.replicas,
        "retention": "limits",
        "maxBytes": stream.max_bytes(settings),
        "discard": "old",
    }
    if stream.has_max_age:
        spec["maxAge"] = settings.max_age
    if stream.max_msgs_per_subject is not None:
        spec["maxMsgsPerSubject"] = stream.max_msgs_per_subject
    if stream.sources:
        spec["sources"] = [_nack_source(s) for s in stream.sources]
    if stream.account is not None:
        # NACK signs in to SOURCES as `nack-sources` (its seed file in NACK's mounted Secret); an uplink stream's
        # account it reaches from there (topology.csc_accounts).
        spec["nkey"] = f"{naming.NACK_NKEY_DIR}/{naming.NACK_SOURCES_USER.seed.key}"
    if stream.api_domain is not None:
        spec["jsDomain"] = stream.api_domain
    return spec


def jetstream_config(stream: MqttStream, settings: MqttStreams, *, replicas: int | None = None) -> dict[str, Any]:
    """The same stream as a JetStream API `$JS.API.STREAM.CREATE` body (what NACK sends)."""
    config: dict[str, Any] = {"name": stream.name}
    if stream.subjects:
        config["subjects"] = list(stream.subjects)
    config |= {
        "storage": settings.storage,
        "num_replicas": replicas if replicas is not None else settings.replicas,
        "retention": "limits",
        "max_bytes": stream.max_bytes(settings),
        "discard": "old",
    }
    if stream.has_max_age:
        config["max_age"] = duration_ns(settings.max_age)
    if stream.max_msgs_per_subject is not None:
        config["max_msgs_per_subject"] = stream.max_msgs_per_subject
    if stream.sources:
        config["sources"] = [_api_source(s) for s in stream.sources]
    return config


def nack_specs(bus: EventBus, cpc_lists: Mapping[str, CrossLayer] | None = None) -> dict[str, dict[str, Any]]:
    """Each MQTT stream's NACK `Stream` spec by object name; which streams exist follows from `bus` alone."""
    return {s.resource_name: nack_spec(s, bus.mqtt_streams) for s in mqtt_streams(bus, cpc_lists)}


def own_nack_specs(bus: EventBus) -> dict[str, dict[str, Any]]:
    """The part of `nack_specs` that no CPC's lists change: every stream but the CSC's per-CPC ones."""
    return {s.resource_name: nack_spec(s, bus.mqtt_streams) for s in mqtt_streams(bus) if not s.for_one_cpc}


def cpc_nack_specs(bus: EventBus, cluster_id: str, lists: CrossLayer | None) -> dict[str, dict[str, Any]]:
    """On the CSC: the part of `nack_specs` that CPC `cluster_id`'s lists decide (None: it exports none).

    The program gives each CPC's streams only that CPC's stack reference to wait on, not the whole fleet's.
    """
    own = lists if lists is not None else bus.effective_cross_layer  # as mqtt_streams falls back
    return {s.resource_name: nack_spec(s, bus.mqtt_streams) for s in _one_cpc_streams(bus, cluster_id, own)}
