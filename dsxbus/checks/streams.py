"""JetStream streams the bus creates (`mqttStreams`, `nats`): placed on enough servers, fitting their store."""

from __future__ import annotations

from dsxbus import natsconf, streams
from dsxbus.config import EventBus
from dsxbus.errors import Problem, key_path

NO_FILE_STORE = (
    "the bus's NATS servers have no file store with mqttStreams.storage memory (max_file_store 0, as upstream: no "
    "volumes), so JetStream refuses the stream ('insufficient storage resources'); use memory, or set "
    "mqttStreams.storage: file"
)


def problems(bus: EventBus) -> list[Problem]:
    found = []
    if bus.mqtt_streams.replicas > bus.nats.replicas:
        found.append(
            Problem(
                key_path("mqttStreams", "replicas"),
                bus.mqtt_streams.replicas,
                f"more stream replicas than NATS servers (nats.replicas = {bus.nats.replicas}): JetStream "
                "cannot place the MQTT streams and QoS 1 clients get no CONNACK. Lower it or add servers",
            )
        )
    return found + _store_problems(bus)


def _store_problems(bus: EventBus) -> list[Problem]:
    # JetStream reserves each stream's maxBytes in its store when it is created and refuses a stream that does not
    # fit ("insufficient memory resources available"): NACK then retries forever and MQTT QoS 1 has nowhere to go.
    settings = bus.mqtt_streams
    field, size = ("maxFileStore", bus.nats.max_file_store)
    if settings.storage == "memory":
        field, size = ("maxMemoryStore", bus.nats.max_memory_store)
    store = natsconf.size_in_bytes(size)  # a Size: parsed and bounded when the config was read
    main = 5 * settings.max_bytes if settings.max_bytes > 0 else 0
    per_cpc = streams.streams_per_cpc(bus) * len(bus.cpc_ids) * settings.per_cpc_max_bytes
    if main + per_cpc <= store:
        return []
    spelled = f"5 x mqttStreams.maxBytes ({settings.max_bytes})"
    if per_cpc:
        count = f"{streams.streams_per_cpc(bus)} x {len(bus.cpc_ids)} CPCs"
        spelled += f" + {count} x mqttStreams.perCpcMaxBytes ({settings.per_cpc_max_bytes})"
    return [
        Problem(
            key_path("nats", field),
            size,
            f"is {store} bytes, but the MQTT streams reserve {main + per_cpc} ({spelled}): JetStream refuses the "
            "streams that do not fit, and MQTT QoS 1 and retained messages for those clusters have nowhere to go. "
            f"Fix: raise nats.{field}, or lower mqttStreams.maxBytes / perCpcMaxBytes",
        )
    ]
