"""The base of every stack-config model, and the permission vocabulary several config blocks share."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from dsxbus.domains import Count, Nanoseconds


class Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_alias=True,  # YAML keys are the upstream chart's value names
        validate_by_name=True,  # tests may build models with snake_case
        serialize_by_alias=True,
        frozen=True,
        extra="forbid",  # a misspelt key is an error, not a silently ignored default
        use_attribute_docstrings=True,  # field docstrings become the schema's descriptions
    )


GrantRisk = Literal["crossClusterCommands", "broadcasts", "serverApis", "wholeAccount"]
"""What a permission grant can reach that dsx-bus refuses unless the entry acknowledges it (dsxbus.grants)."""


class SubjectRule(Model):
    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()


class ResponsePermission(Model):
    max: Count
    ttl: Nanoseconds = 0
    """Nanoseconds, as the auth-callout's permissions.json expects."""


class Permissions(Model):
    """NATS pub/sub permissions of one identity (subjects in NATS form: `a.b.>`)."""

    pub: SubjectRule | None = None
    sub: SubjectRule | None = None
    resp: ResponsePermission | None = None
