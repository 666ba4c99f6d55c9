"""What dsx-bus deploys for Sveltos: EventSources, EventTriggers, the streams and durable consumers the agent reads."""

from __future__ import annotations

import re
from typing import Any

from dsxbus.durations import duration_ns
from dsxbus.sveltos.config import EventRule, LabelSelector, Sveltos

API_VERSION = "lib.projectsveltos.io/v1beta1"
INSTANTIATE_ANNOTATION = "projectsveltos.io/instantiate"
CONSUMER = "sveltos-agent"
"""The durable consumer sveltos-agent v0.51 looks up on each stream (it does not create it)."""


def _selector(selector: LabelSelector) -> dict[str, Any]:
    return selector.model_dump(by_alias=True, exclude_defaults=True)


def event_source(rule: EventRule) -> dict[str, Any]:
    """The cluster-scoped EventSource (no namespace: the CRD is cluster-scoped)."""
    return {
        "apiVersion": API_VERSION,
        "kind": "EventSource",
        "metadata": {"name": rule.name},
        "spec": {"messagingMatchCriteria": [m.patterns() for m in rule.match]},
    }


def policy_refs(rule: EventRule) -> list[dict[str, Any]]:
    refs = [r.model_dump(by_alias=True, exclude_none=True) for r in rule.trigger.policy_refs]
    for name, template in rule.templates.items():
        ref = {"kind": "ConfigMap", "name": name, "namespace": template.namespace}
        if not any((r["kind"], r["name"], r["namespace"]) == (ref["kind"], name, template.namespace) for r in refs):
            refs.append(ref)
    return refs


def event_trigger(rule: EventRule) -> dict[str, Any]:
    trigger = rule.trigger
    spec: dict[str, Any] = {
        "sourceClusterSelector": _selector(trigger.source_cluster_selector or LabelSelector()),
        "eventSourceName": rule.name,
        "oneForEvent": trigger.one_for_event,
        "syncMode": trigger.sync_mode,
        "policyRefs": policy_refs(rule),
    }
    if trigger.destination_cluster_selector is not None:
        spec["destinationClusterSelector"] = _selector(trigger.destination_cluster_selector)
    if trigger.cloud_event_action is not None:
        spec["cloudEventAction"] = trigger.cloud_event_action
    return {"apiVersion": API_VERSION, "kind": "EventTrigger", "metadata": {"name": rule.name}, "spec": spec}


def stream_object_token(stream: str) -> str:
    """How a stream name appears in its NACK Stream/Consumer object names (`sveltos-<token>`).

    Kubernetes names are lower-case RFC 1123 (letters, digits, '-'); JetStream names often are not (`USER_OPS`),
    and the API server refuses such an object name outright.
    """
    return re.sub(r"[^a-z0-9-]+", "-", stream.lower()).strip("-")


def nack_streams(block: Sveltos) -> list[dict[str, Any]]:
    """`spec`s of the NACK Streams the agent consumes: created up front with exactly the listed subjects."""
    if block.jetstream is None:
        return []
    settings = block.jetstream
    return [
        {
            "name": stream.name,
            "subjects": list(stream.subjects),
            "storage": settings.storage,
            "replicas": settings.replicas,
            "retention": "limits",
            "maxAge": settings.max_age,
            "discard": "old",
        }
        for stream in settings.streams
    ]


def jetstream_streams(block: Sveltos) -> list[dict[str, Any]]:
    """The same streams as JetStream API `$JS.API.STREAM.CREATE` bodies (what NACK sends; the local federation)."""
    return [
        {
            "name": spec["name"],
            "subjects": spec["subjects"],
            "storage": spec["storage"],
            "num_replicas": spec["replicas"],
            "retention": spec["retention"],
            "max_age": duration_ns(spec["maxAge"]),
            "discard": spec["discard"],
        }
        for spec in nack_streams(block)
    ]


def jetstream_consumers(block: Sveltos) -> list[dict[str, Any]]:
    """The consumers as `$JS.API.CONSUMER.DURABLE.CREATE.<stream>.<durable>` bodies."""
    return [
        {
            "stream_name": spec["streamName"],
            "config": {
                "durable_name": spec["durableName"],
                "deliver_policy": spec["deliverPolicy"],
                "ack_policy": spec["ackPolicy"],
                "ack_wait": duration_ns(spec["ackWait"]),
                "max_deliver": spec["maxDeliver"],
            },
        }
        for spec in nack_consumers(block)
    ]


def nack_consumers(block: Sveltos) -> list[dict[str, Any]]:
    """The durable pull consumer per stream that sveltos-agent v0.51 looks up by name (it never creates one)."""
    return [
        {
            "streamName": stream.name,
            "durableName": CONSUMER,
            "deliverPolicy": "all",
            "ackPolicy": "explicit",
            "ackWait": "30s",
            # A message that is not a CloudEvent is neither acked nor nacked by the agent: bound its retries.
            "maxDeliver": 5,
        }
        for stream in (block.jetstream.streams if block.jetstream else ())
    ]
