"""What sveltos-agent reads and accepts: its `sveltos-nats` JSON structs and the CloudEvents it processes.

Mirrors sveltos-agent's Go structs (pkg/evaluation, research/sveltos/SPEC.md §3) field for field, and its
decoding: `[]byte` fields are standard base64.
"""

from __future__ import annotations

import base64
import json

from pydantic import BaseModel, ConfigDict, Field, field_serializer, field_validator


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
