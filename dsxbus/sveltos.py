"""Project Sveltos on the bus: the `sveltos` stack-config block, the agent's `sveltos-nats` JSON, the manifests.

research/sveltos/SPEC.md is the contract. The agent reads Secret `projectsveltos/sveltos-nats` (key
`sveltos-nats`, JSON) in each managed cluster, subscribes, and reports matching CloudEvents; event-manager
then runs the EventTriggers that reference the matching EventSource.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, model_validator

from dsxbus.durations import duration_ns
from dsxbus.model import Model, Permissions, SubjectRule
from dsxbus.sveltos_agent import (
    ClientCert,
    Configuration,
    ConsumerConfiguration,
    JetstreamConfiguration,
    MessagingAuthorization,
    MessagingConfig,
    NatsConfiguration,
    Stream,
)

SECRET_NAMESPACE = "projectsveltos"
SECRET_NAME = "sveltos-nats"
SECRET_KEY = "sveltos-nats"
API_VERSION = "lib.projectsveltos.io/v1beta1"
INSTANTIATE_ANNOTATION = "projectsveltos.io/instantiate"
PERMISSION_NAME = "sveltos-agent"
"""The mTLS entry dsx-bus generates in permissions.json for the agent's certificate."""
CLIENT_TLS_SECRET = "sveltos-nats-client-tls"
"""cert-manager writes the agent's client certificate here (tls.crt, tls.key, ca.crt)."""
CONSUMER = "sveltos-agent"
"""The durable consumer sveltos-agent v0.51 looks up on each stream (it does not create it)."""
MTLS_CLIENT_PORT = 4222
NATS_WATCHER_NOTE = (
    "Sveltos reads sveltos-nats only when its classifier runs with --enable-nats-watcher=true (off by default since "
    "v1.7.0). With the projectsveltos Helm chart set the top-level value enableNatsWatcher: true (the documented "
    'global.enableNatsWatcher does nothing), or classifierManager.manager.extraArgs.enable-nats-watcher: "true"'
)


# --- The stack-config block. ---


class NatsTransport(Model):
    """Core NATS: one plain subscription per subject; events published while the agent is down are lost."""

    subjects: tuple[str, ...]

    @model_validator(mode="before")
    @classmethod
    def _streams_belong_to_jetstream(cls, data: object) -> object:
        if isinstance(data, dict) and "streams" in data:
            raise ValueError(
                "streams go under sveltos.jetstream, not sveltos.nats: the agent ignores `streams` in its nats "
                "block and subscribes to nothing (the upstream doc's JetStream example has this mistake)"
            )
        return data


class StreamSpec(Model):
    name: str
    """The JetStream stream dsx-bus creates (NACK) and the agent consumes."""
    subjects: tuple[str, ...]


class JetStreamTransport(Model):
    """JetStream: events wait in a stream while the agent is down (durable consumer `sveltos-agent`)."""

    streams: tuple[StreamSpec, ...]
    storage: Literal["memory", "file"] = "memory"
    """The bus's servers have no file store (max_file_store 0, as upstream): memory is what works."""
    replicas: int = Field(default=1, ge=1, le=5)
    max_age: str = "24h"


class LabelSelectorRequirement(Model):
    key: str
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: tuple[str, ...] = ()


class LabelSelector(Model):
    match_labels: dict[str, str] = {}
    match_expressions: tuple[LabelSelectorRequirement, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.match_labels and not self.match_expressions


class MatchCriteria(Model):
    """One EventSource `messagingMatchCriteria` item: Go regexps, ANDed; an omitted field matches anything."""

    subject: str | None = None
    """Matched against the agent's *subscription string* (e.g. `command.user.>`), not the message subject."""
    cloud_event_source: str | None = None
    cloud_event_type: str | None = None
    cloud_event_subject: str | None = None

    def patterns(self) -> dict[str, str]:
        return {k: v for k, v in self.model_dump(by_alias=True, exclude_none=True).items() if isinstance(v, str)}


class PolicyRef(Model):
    kind: Literal["ConfigMap", "Secret", "GitRepository", "OCIRepository", "Bucket"] = "ConfigMap"
    name: str
    namespace: str = "default"
    path: str | None = None
    optional: bool | None = None
    deployment_type: Literal["Local", "Remote"] | None = None
    tier: int | None = Field(default=None, ge=1)


class Template(Model):
    """A ConfigMap instantiated per event (annotation projectsveltos.io/instantiate): Go templates in its data."""

    namespace: str = "default"
    data: dict[str, str]


class Trigger(Model):
    """The EventTrigger: which clusters, what to deploy, Create or Delete."""

    source_cluster_selector: LabelSelector | None = None
    """Required by the CRD; an empty selector matches no cluster."""
    destination_cluster_selector: LabelSelector | None = None
    one_for_event: bool = True
    """One ClusterProfile per CloudEvent; cloudEventAction is only evaluated with this on (Sveltos default: off)."""
    cloud_event_action: str | None = None
    """A Go template that must render exactly `Create` or `Delete` (Sveltos default: Create)."""
    sync_mode: Literal["OneTime", "Continuous", "ContinuousWithDriftDetection", "DryRun"] = "Continuous"
    policy_refs: tuple[PolicyRef, ...] = ()


class EventRule(Model):
    """One EventSource and the EventTrigger that reacts to it (both named `name`)."""

    name: str
    match: tuple[MatchCriteria, ...]
    """The EventSource's messagingMatchCriteria (OR: the first matching item wins)."""
    trigger: Trigger
    templates: dict[str, Template] = {}
    """ConfigMaps created with the rule and added to the trigger's policyRefs."""


class Sveltos(Model):
    """Sveltos reacting to CloudEvents on this cluster's bus (sveltos-agent runs in this cluster)."""

    enabled: bool = False
    nats: NatsTransport | None = None
    jetstream: JetStreamTransport | None = None
    identity: str | None = None
    """The agent's certificate identity in the auth-callout (default `CN=sveltos-agent.<cluster>`)."""
    client_certificate_secret: str | None = None
    """With mtls.serverCertSans (your own PKI): a Secret in the bus namespace with the agent's tls.crt, tls.key
    and ca.crt. With mtls.certificateIssuer dsx-bus requests it from cert-manager instead."""
    event_rules: tuple[EventRule, ...] = ()
    """EventSources/EventTriggers to create in this cluster (it must run the Sveltos management plane)."""

    def identity_for(self, cluster_name: str) -> str:
        return self.identity or f"CN=sveltos-agent.{cluster_name}"

    def subscriptions(self) -> tuple[str, ...]:
        """Every subject the agent receives on: its core NATS subjects and its streams' subjects."""
        core = self.nats.subjects if self.nats else ()
        streamed = tuple(s for stream in (self.jetstream.streams if self.jetstream else ()) for s in stream.subjects)
        return core + streamed

    def subscription_strings(self) -> tuple[str, ...]:
        """What EventSource `subject` regexps are matched against: subscriptions, or stream names (JetStream)."""
        core = self.nats.subjects if self.nats else ()
        return core + tuple(stream.name for stream in (self.jetstream.streams if self.jetstream else ()))


# --- What the program deploys. ---


def url(namespace: str) -> str:
    """The in-cluster nats-mtls client port: TLS with client certificates, which is how the agent signs in."""
    return f"tls://nats-mtls.{namespace}.svc.cluster.local:{MTLS_CLIENT_PORT}"


def in_cluster_hostnames(namespace: str) -> tuple[str, ...]:
    """The names the nats-mtls server certificate must carry for in-cluster TLS clients."""
    return (f"nats-mtls.{namespace}.svc.cluster.local", f"nats-mtls.{namespace}.svc", "nats-mtls")


def messaging_config(block: Sveltos, *, server_url: str, certificate: bytes, key: bytes, ca: bytes) -> MessagingConfig:
    """The agent's JSON: the same URL and client certificate for the core NATS and JetStream connections."""
    auth = MessagingAuthorization(client_cert=ClientCert(cert_pem=certificate, key_pem=key), root_ca=ca)
    nats = None
    if block.nats is not None:
        nats = NatsConfiguration(
            configuration=Configuration(url=server_url, subjects=block.nats.subjects, authorization=auth)
        )
    jetstream = None
    if block.jetstream is not None:
        streams = tuple(Stream(name=s.name, subjects=s.subjects) for s in block.jetstream.streams)
        jetstream = JetstreamConfiguration(
            configuration=ConsumerConfiguration(
                url=server_url, streams=streams, subjects=tuple(s.name for s in streams), authorization=auth
            )
        )
    return MessagingConfig(nats=nats, jetstream=jetstream)


def bus_permissions(block: Sveltos, domain: str) -> Permissions:
    """Exactly what the agent needs: subscribe to its subjects; with JetStream, read its streams and ack.

    The agent's account on nats-mtls reaches JetStream through the mapping `$JS.API.>` -> `$JS.<domain>.API.>`,
    and nats-server checks publish permissions on the mapped subject (measured), so that is what is granted.
    """
    core = block.nats.subjects if block.nats else ()
    if block.jetstream is None:
        return Permissions(pub=SubjectRule(deny=(">",)), sub=SubjectRule(allow=core))
    api = f"$JS.{domain}.API"
    publish: list[str] = [f"{api}.INFO"]
    for stream in block.jetstream.streams:
        name = stream.name
        # Which consumer current agents create or look up is unverified (SPEC §3.4), hence `*` for its name;
        # no delete, purge or stream edits.
        publish += [
            f"{api}.STREAM.INFO.{name}",
            f"{api}.CONSUMER.INFO.{name}.*",
            f"{api}.CONSUMER.CREATE.{name}.>",
            f"{api}.CONSUMER.DURABLE.CREATE.{name}.*",
            f"{api}.CONSUMER.MSG.NEXT.{name}.*",
            f"$JS.ACK.{name}.>",
        ]
    return Permissions(pub=SubjectRule(allow=tuple(publish)), sub=SubjectRule(allow=(*core, "_INBOX.>")))


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


# --- What the agent does with a message (SPEC §3.5, §1): for checks and the local federation. ---


def matching_rules(block: Sveltos, subscription: str, event: dict[str, Any]) -> list[str]:
    """The event rules whose EventSource matches, as the agent evaluates them (unanchored Go regexps).

    `subscription` is the subscription string the message arrived on (e.g. `command.user.>`), as the agent
    passes it, not the message subject.
    """
    values = {
        "subject": subscription,
        "cloudEventSource": str(event.get("source", "")),
        "cloudEventType": str(event.get("type", "")),
        "cloudEventSubject": str(event.get("subject", "")),
    }
    return [
        rule.name
        for rule in block.event_rules
        if any(
            all(re.search(pattern, values[field]) for field, pattern in criteria.patterns().items())
            for criteria in rule.match
        )
    ]
