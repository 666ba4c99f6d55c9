"""sveltos-agent: the `sveltos-nats` JSON it reads, where it signs in, what it may do, what it does with a message.

The JSON mirrors sveltos-agent's Go structs (pkg/evaluation, research/sveltos/SPEC.md §3) field for field, and its
decoding: `[]byte` fields are standard base64.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_serializer, field_validator

from dsxbus import re2
from dsxbus.model import Permissions, SubjectRule
from dsxbus.sveltos.config import Sveltos

SECRET_NAMESPACE = "projectsveltos"
SECRET_NAME = "sveltos-nats"
SECRET_KEY = "sveltos-nats"
CLIENT_TLS_SECRET = "sveltos-nats-client-tls"
"""cert-manager writes the agent's client certificate here (tls.crt, tls.key, ca.crt)."""
MTLS_CLIENT_PORT = 4222
PERMISSION_NAME = "sveltos-agent"
"""The mTLS entry dsx-bus generates in permissions.json for the agent's certificate."""
NATS_WATCHER_NOTE = (
    "Sveltos reads sveltos-nats only when its classifier runs with --enable-nats-watcher=true (off by default since "
    "v1.7.0). With the projectsveltos Helm chart set the top-level value enableNatsWatcher: true (the documented "
    'global.enableNatsWatcher does nothing), or classifierManager.manager.extraArgs.enable-nats-watcher: "true"'
)


# --- The `sveltos-nats` JSON. ---


class _Agent(BaseModel):
    # The agent matches keys case-insensitively and ignores unknown ones; we only parse what we write,
    # so unknown keys here are our own mistake.
    model_config = ConfigDict(frozen=True, extra="forbid", validate_by_name=True, serialize_by_alias=True)


def _b64(value: bytes) -> str:
    # Go decodes a JSON string into []byte as standard padded base64. The upstream schema calls these
    # fields "PEM-encoded" and the doc says strings are converted: both wrong, raw PEM fails to decode.
    return base64.b64encode(value).decode()


def _from_b64(value: object) -> object:
    if isinstance(value, str):
        return base64.b64decode(value.replace("\r", "").replace("\n", ""), validate=True)
    return value


class MessagingUser(_Agent):
    user: str
    password: str


class ClientCert(_Agent):
    cert_pem: bytes = Field(alias="certPem")
    key_pem: bytes = Field(alias="keyPem")

    _decode = field_validator("cert_pem", "key_pem", mode="before")(_from_b64)

    @field_serializer("cert_pem", "key_pem")
    def _encode(self, value: bytes) -> str:
        return _b64(value)


class MessagingAuthorization(_Agent):
    user: MessagingUser | None = None
    token: str | None = None
    client_cert: ClientCert | None = Field(default=None, alias="clientCert")
    root_ca: bytes | None = Field(default=None, alias="rootCA")

    _decode = field_validator("root_ca", mode="before")(_from_b64)

    @field_serializer("root_ca")
    def _encode(self, value: bytes | None) -> str | None:
        return None if value is None else _b64(value)


class Configuration(_Agent):
    url: str
    subjects: tuple[str, ...]
    authorization: MessagingAuthorization | None = None


class Stream(_Agent):
    name: str
    subjects: tuple[str, ...]


class ConsumerConfiguration(_Agent):
    url: str
    streams: tuple[Stream, ...]
    subjects: tuple[str, ...] = ()
    """Stream names, for sveltos-agent before the July 2025 JetStream rework (it read `subjects`).

    Not in the current struct or schema; current agents ignore it, so writing both serves every release."""
    authorization: MessagingAuthorization | None = None


class NatsConfiguration(_Agent):
    configuration: Configuration


class JetstreamConfiguration(_Agent):
    configuration: ConsumerConfiguration


class MessagingConfig(_Agent):
    """The value of key `sveltos-nats` in Secret `projectsveltos/sveltos-nats`."""

    nats: NatsConfiguration | None = None
    jetstream: JetstreamConfiguration | None = None

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json", exclude_none=True, exclude_defaults=False), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> MessagingConfig:
        """Decode as the agent does (base64 for the certificate fields), strictly."""
        return cls.model_validate(json.loads(text))


# --- Where the agent signs in, and with what. ---


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


# --- What it may do on the bus. ---


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


# --- What it does with a message (SPEC §3.5, §1): for checks and the local federation. ---


def cloud_event_problem(payload: bytes) -> str | None:
    """Why sveltos-agent would drop this message, or None: it reads structured-mode JSON CloudEvents only."""
    try:
        event = json.loads(payload)
    except ValueError:
        return "not JSON: the agent reads structured-mode CloudEvents only (ce-* headers are ignored)"
    if not isinstance(event, dict):
        return "not a JSON object"
    if event.get("specversion") not in ("1.0", "0.3"):
        return 'specversion must be "1.0" (or "0.3")'
    missing = [name for name in ("id", "source", "type") if not event.get(name)]
    if missing:
        return f"missing {', '.join(missing)}"
    if "application/json" not in str(event.get("datacontenttype", "")):
        return (
            "datacontenttype must contain application/json, or the agent logs 'cloud event data does not contain json'"
        )
    return None


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
            all(re2.search(pattern, values[field]) for field, pattern in criteria.patterns().items())
            for criteria in rule.match
        )
    ]
