"""The `sveltos` stack-config block: what the agent listens on (core NATS subjects, JetStream streams), the rules."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from dsxbus.domains import StreamMaxAge
from dsxbus.model import Model


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
    max_age: StreamMaxAge = "24h"


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
    credential_sync_image: str = "bitnami/kubectl:1.31.4"
    """The CronJob that copies the renewed client certificate into `sveltos-nats` (dsxbus.sveltos.sync) runs
    `kubectl` and `sh` from this image."""
    credential_sync_schedule: str = "17 * * * *"
    """When it checks (cron). cert-manager renews a third of a certificate's lifetime before it expires (30 days
    of the default 90), so hourly leaves the agent weeks of margin."""

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
