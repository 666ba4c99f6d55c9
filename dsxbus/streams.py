"""The MQTT JetStream streams (INVENTORY §5): as NACK Stream CR specs and as JetStream API configs.

They must exist before any MQTT client connects: measured, if a client connects first the server
creates them itself, without the CPC `sources`, and QoS 1 / retained CSC -> CPC delivery silently
never happens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dsxbus.config import CrossLayer, EventBus, MqttStreams
from dsxbus.durations import duration_ns
from dsxbus.subjects import cpc_prefix
from dsxbus.topology import sourcing_prefix

CSC_API_PREFIX = "$JS.CSC.API"


@dataclass(frozen=True)
class Source:
    """A CPC stream sourcing the CSC's stream of the same name across the leaf (JetStream domain CSC)."""

    name: str
    api_prefix: str
    deliver_prefix: str
    transforms: tuple[tuple[str, str], ...]


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


_STREAMS = (
    ("mqtt-msgs", "msgs", "$MQTT.msgs.>", True, None),
    ("mqtt-rmsgs", "rmsgs", "$MQTT.rmsgs.>", True, 1),
    ("mqtt-sess", "sess", "$MQTT.sess.>", False, None),  # sessions must not age out
    ("mqtt-qos2in", "qos2in", "$MQTT.qos2.in.>", True, None),
    ("mqtt-out", "out", "$MQTT.out.>", True, None),
)


def _source(kind: str, cluster_id: str, lists: CrossLayer) -> Source:
    # `dest: ""` keeps the subject as is; kept literally for server-side-apply parity with NACK.
    transforms = tuple((f"$MQTT.{kind}.{e}", "") for e in lists.csc_exports)
    transforms += tuple(
        (f"$MQTT.{kind}.{cpc_prefix(cluster_id)}{p}", f"$MQTT.{kind}.{p}") for p in lists.csc_prefixed_exports
    )
    return Source(f"$MQTT_{kind}", CSC_API_PREFIX, sourcing_prefix(cluster_id), transforms)


def mqtt_streams(bus: EventBus) -> tuple[MqttStream, ...]:
    """The five MQTT streams of one cluster; on a CPC, msgs and rmsgs source the CSC's."""
    streams = []
    for resource, kind, subject, has_max_age, per_subject in _STREAMS:
        sources: tuple[Source, ...] = ()
        if bus.cluster_type == "cpc" and kind in ("msgs", "rmsgs"):
            sources = (_source(kind, bus.cluster_id or "", bus.effective_cross_layer),)
        streams.append(MqttStream(resource, f"$MQTT_{kind}", (subject,), has_max_age, per_subject, sources))
    return tuple(streams)


def nack_spec(stream: MqttStream, settings: MqttStreams) -> dict[str, Any]:
    """`spec` of a `jetstream.nats.io/v1beta2` Stream."""
    spec: dict[str, Any] = {
        "name": stream.name,
        "subjects": list(stream.subjects),
        "storage": settings.storage,
        "replicas": settings.replicas,
        "retention": "limits",
        "maxBytes": settings.max_bytes,
        "discard": "old",
    }
    if stream.has_max_age:
        spec["maxAge"] = settings.max_age
    if stream.max_msgs_per_subject is not None:
        spec["maxMsgsPerSubject"] = stream.max_msgs_per_subject
    if stream.sources:
        spec["sources"] = [
            {
                "name": s.name,
                "externalApiPrefix": s.api_prefix,
                "externalDeliverPrefix": s.deliver_prefix,
                "subjectTransforms": [{"source": src, "dest": dest} for src, dest in s.transforms],
            }
            for s in stream.sources
        ]
    return spec


def jetstream_config(stream: MqttStream, settings: MqttStreams, *, replicas: int | None = None) -> dict[str, Any]:
    """The same stream as a JetStream API `$JS.API.STREAM.CREATE` body (what NACK sends)."""
    config: dict[str, Any] = {
        "name": stream.name,
        "subjects": list(stream.subjects),
        "storage": settings.storage,
        "num_replicas": replicas if replicas is not None else settings.replicas,
        "retention": "limits",
        "max_bytes": settings.max_bytes,
        "discard": "old",
    }
    if stream.has_max_age:
        config["max_age"] = duration_ns(settings.max_age)
    if stream.max_msgs_per_subject is not None:
        config["max_msgs_per_subject"] = stream.max_msgs_per_subject
    if stream.sources:
        config["sources"] = [
            {
                "name": s.name,
                "external": {"api": s.api_prefix, "deliver": s.deliver_prefix},
                "subject_transforms": [{"src": src, "dest": dest} for src, dest in s.transforms],
            }
            for s in stream.sources
        ]
    return config
