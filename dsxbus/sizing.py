"""What every workload of the bus may use: CPU and memory per container, replicas, and what follows from them.

Defaults are upstream's (INVENTORY §1, read from the charts at nats-2.12.6, nack-0.33.2, surveyor-0.20.7 and the
auth-callout chart): the program renders exactly these unless the stack config says otherwise.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import model_validator
from pydantic.alias_generators import to_snake

from dsxbus.model import Model


class Quantities(Model):
    """One side of a container's resources (`requests` or `limits`), in Kubernetes quantities."""

    cpu: str
    """CPU: cores (`1`, `0.5`) or millicores (`200m`)."""
    memory: str
    """Memory: bytes with an optional unit (`512Mi`, `2Gi`, `1G`)."""


class Resources(Model):
    """A container's `resources` block."""

    requests: Quantities
    limits: Quantities

    def manifest(self) -> dict[str, Any]:
        """As a pod spec's `resources` (and the charts' `resources` values)."""
        return self.model_dump(by_alias=True)


def _upstream(cpu: str, memory: str, cpu_limit: str, memory_limit: str) -> dict[str, dict[str, str]]:
    return {"requests": {"cpu": cpu, "memory": memory}, "limits": {"cpu": cpu_limit, "memory": memory_limit}}


UPSTREAM: dict[str, dict[str, dict[str, str]]] = {
    "nats": _upstream("200m", "512Mi", "1000m", "2Gi"),
    "natsMtls": _upstream("100m", "256Mi", "500m", "1Gi"),
    "nack": _upstream("10m", "32Mi", "100m", "128Mi"),
    "surveyor": _upstream("10m", "32Mi", "100m", "128Mi"),
    "authCallout": _upstream("10m", "32Mi", "100m", "128Mi"),
}
"""Upstream's resources per workload (stack-config key under `resources`)."""


class WorkloadResources(Model):
    """`resources.<workload>`: each defaults to upstream's; a partial block overrides only the keys it names."""

    nats: Resources
    """The `nats` servers (upstream: 200m/512Mi requests, 1000m/2Gi limits)."""
    nats_mtls: Resources
    """The `nats-mtls` server (upstream: 100m/256Mi requests, 500m/1Gi limits)."""
    nack: Resources
    """NACK, the JetStream controller (upstream: 10m/32Mi requests, 100m/128Mi limits)."""
    surveyor: Resources
    """Surveyor, the Prometheus exporter (upstream: 10m/32Mi requests, 100m/128Mi limits)."""
    auth_callout: Resources
    """The auth-callout (upstream chart: 10m/32Mi requests, 100m/128Mi limits)."""

    @model_validator(mode="before")
    @classmethod
    def _over_upstream(cls, data: object) -> object:
        # `resources: {nats: {limits: {memory: 4Gi}}}` keeps nats's other three values, not a generic default.
        if not isinstance(data, dict):
            return data
        merged: dict[object, object] = {}
        for workload, default in UPSTREAM.items():
            given = data.get(workload, data.get(to_snake(workload), {}))
            merged[workload] = _deep_merge(default, given) if isinstance(given, dict) else given
        known = {*UPSTREAM, *map(to_snake, UPSTREAM)}
        merged.update({k: v for k, v in data.items() if k not in known})  # extra="forbid" names a misspelt one
        return merged

    def of(self, workload: str) -> Resources:
        """By stack-config key (`natsMtls`)."""
        resources: Resources = getattr(self, to_snake(workload))
        return resources


def _deep_merge(default: dict[str, Any], given: dict[Any, Any]) -> dict[Any, Any]:
    merged: dict[Any, Any] = {**default}
    for key, value in given.items():
        base = default.get(key)
        merged[key] = _deep_merge(base, value) if isinstance(base, dict) and isinstance(value, dict) else value
    return merged


_CPU = re.compile(r"^(\d+(?:\.\d+)?)(m?)$")


def millicores(cpu: str) -> int:
    """`200m` -> 200, `1` -> 1000, `0.5` -> 500."""
    match = _CPU.match(cpu.strip())
    if match is None:
        raise ValueError(f"{cpu!r} is not a CPU quantity like 200m, 1 or 0.5")
    number, milli = match.groups()
    return round(float(number)) if milli else round(float(number) * 1000)


_MEMORY = re.compile(r"^(\d+(?:\.\d+)?)([kMGTPE]i?|Ki)?$")
_MEMORY_UNITS = {"k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}
_MEMORY_UNITS |= {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}


def memory_bytes(memory: str) -> int:
    """A Kubernetes memory quantity in bytes: `2Gi` -> 2147483648, `1G` -> 10**9, `128974848`."""
    match = _MEMORY.match(memory.strip())
    if match is None or (match.group(2) or "") not in {"", *_MEMORY_UNITS}:
        raise ValueError(f"{memory!r} is not a memory quantity like 512Mi, 2Gi or 1G")
    number, unit = match.groups()
    return int(float(number) * (_MEMORY_UNITS[unit] if unit else 1))


GOMEMLIMIT_SHARE = 0.8
"""GOMEMLIMIT at 80 % of the memory limit, as upstream (2Gi -> 1638MiB): the Go GC works before the OOM killer."""


def gomemlimit(memory_limit: str) -> str:
    return f"{int(memory_bytes(memory_limit) * GOMEMLIMIT_SHARE) // 2**20}MiB"


HA_NATS_REPLICAS = 3
"""From this many nats servers on, the bus is meant to survive losing a node: so must its auth-callout."""
HA_AUTH_CALLOUT_REPLICAS = 2


def auth_callout_replicas(configured: int | None, nats_replicas: int) -> int:
    """`authCallout.replicas`, or by default 2 where nats runs 3+ servers (one pod per node drain), else 1.

    Every client sign-in goes through the auth-callout: with one pod, a node drain or a crash refuses every
    new connection (MQTT clients and leafs alike) until it is back.
    """
    if configured is not None:
        return configured
    return HA_AUTH_CALLOUT_REPLICAS if nats_replicas >= HA_NATS_REPLICAS else 1


def pod_disruption_budget(replicas: int) -> dict[str, Any] | None:
    """A PodDisruptionBudget's spec (without selector) for a Deployment of `replicas` pods; none for one pod
    (a budget of one pod with maxUnavailable 1 protects nothing, and minAvailable 1 blocks every drain)."""
    return {"maxUnavailable": 1} if replicas >= 2 else None
