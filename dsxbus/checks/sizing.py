"""Sizes that contradict each other (`resources`, `nats.maxMemoryStore`, `authCallout.replicas`): each fails only at
run time, in a pod that is OOM-killed or refused, or a bus that stops admitting clients."""

from __future__ import annotations

from dsxbus import natsconf, sizing
from dsxbus.config import EventBus
from dsxbus.errors import Problem, key_path


def problems(bus: EventBus) -> list[Problem]:
    return _request_limit_problems(bus) + _memory_store_problems(bus) + _auth_callout_problems(bus)


def _request_limit_problems(bus: EventBus) -> list[Problem]:
    found = []
    for workload in sizing.UPSTREAM:
        resources = bus.resources.of(workload)
        for what, parse, unit in (("cpu", sizing.millicores, "m"), ("memory", sizing.memory_bytes, " bytes")):
            amounts: dict[str, int] = {}
            for side in ("requests", "limits"):
                value: str = getattr(getattr(resources, side), what)
                try:
                    amounts[side] = parse(value)
                except ValueError as exc:
                    fix = f"{exc}: the API server refuses the pod spec"
                    found.append(Problem(key_path("resources", workload, side, what), value, fix))
            if len(amounts) == 2 and amounts["requests"] > amounts["limits"]:
                request, limit = resources.requests, resources.limits
                found.append(
                    Problem(
                        key_path("resources", workload, "requests", what),
                        getattr(request, what),
                        f"is more than the limit {getattr(limit, what)!r} ({amounts['requests']}{unit} > "
                        f"{amounts['limits']}{unit}): the API server refuses the pod ('must be less than or equal "
                        f"to ... limit'). Fix: lower the request or raise resources.{workload}.limits.{what}",
                    )
                )
    return found


def _memory_store_problems(bus: EventBus) -> list[Problem]:
    # JetStream keeps a memory store of maxMemoryStore inside the nats container: above the container's limit,
    # the kernel OOM-kills the server once the streams fill up, and every memory stream on it is lost.
    limit = bus.resources.nats.limits.memory
    try:
        store, allowed = natsconf.size_in_bytes(bus.nats.max_memory_store), sizing.memory_bytes(limit)
    except ValueError:
        return []  # an unparsable size is reported where it is read (checks.streams, the request/limit check)
    if store <= allowed:
        return []
    return [
        Problem(
            key_path("nats", "maxMemoryStore"),
            bus.nats.max_memory_store,
            f"is {store} bytes, more than the nats container's memory limit resources.nats.limits.memory = "
            f"{limit!r} ({allowed} bytes): once the memory streams fill up, the kernel OOM-kills nats-server and "
            "every memory stream on it is lost. Fix: lower nats.maxMemoryStore, or raise "
            "resources.nats.limits.memory (GOMEMLIMIT follows it at 80 %)",
        )
    ]


def _auth_callout_problems(bus: EventBus) -> list[Problem]:
    configured = bus.auth_callout.replicas
    if configured is None or bus.nats.replicas < sizing.HA_NATS_REPLICAS:
        return []
    if configured >= sizing.HA_AUTH_CALLOUT_REPLICAS:
        return []
    return [
        Problem(
            key_path("authCallout", "replicas"),
            configured,
            f"one auth-callout for {bus.nats.replicas} nats servers: every sign-in (clients, MQTT, leafs) goes "
            "through it, so a node drain or a crash of its only pod refuses every new connection although NATS "
            f"itself survives. Fix: set it to {sizing.HA_AUTH_CALLOUT_REPLICAS} or more (the default), which also "
            "gives it a PodDisruptionBudget",
        )
    ]
