"""What each role sets: a CPC finds the CSC and names itself; the CSC lists its CPCs and the leaf URL they dial."""

from __future__ import annotations

import re
from collections import defaultdict

from dsxbus import domains, naming
from dsxbus.config import EventBus
from dsxbus.errors import Problem, key_path


def problems(bus: EventBus) -> list[Problem]:
    return _cpc_problems(bus) if bus.cluster_type == "cpc" else _csc_problems(bus)


def _cpc_problems(bus: EventBus) -> list[Problem]:
    found = _cluster_id_problems(bus.cluster_id)
    found += _finds_the_csc_problems(bus)
    found += _settings_of_the_other_role(
        "only the CSC has this setting; remove it here",
        # An empty value is as good as unset here (`or None`): `cpcs: {}` and `leafEndpoint: ""` configure nothing.
        ("cpcs", bus.cpcs or None),
        ("leafEndpoint", bus.leaf_endpoint or None),
        ("cscLeafServerTLS", bus.csc_leaf_server_tls or None),
        # The CSC sources its CPCs' streams; a CPC has no uplinks of its own to turn on.
        ("mqttStreams.uplinks", bus.mqtt_streams.uplinks or None),
    )
    if bus.csc_endpoint is not None:
        found += _url_problems("cscEndpoint", bus.csc_endpoint)
    return found


def _csc_problems(bus: EventBus) -> list[Problem]:
    found = _settings_of_the_other_role(
        "only a CPC has this setting; remove it here",
        ("clusterId", bus.cluster_id),
        ("cscStack", bus.csc_stack),
        ("cscEndpoint", bus.csc_endpoint),
        ("cpcLeafClientTLS", bus.cpc_leaf_client_tls),
        # The CSC holds no leaf key: each CPC rotates its own (docs/operations.md).
        ("keyGenerations.leaf", bus.key_generations.leaf or None),
    )
    found += _leaf_endpoint_problems(bus.leaf_endpoint)
    found += _cpc_id_problems(bus.cpcs)
    found += _shared_stack_problems(bus.cpcs)
    if not bus.cpcs:
        found.append(Problem(key_path("cpcs"), {}, "no CPCs yet: the CSC accepts no leaf connections", warning=True))
    return found


def _cluster_id_problems(cluster_id: str | None) -> list[Problem]:
    if cluster_id is None:
        return [Problem(key_path("clusterId"), None, 'required on a CPC: set it, e.g. clusterId: "a"')]
    if not re.fullmatch(naming.CLUSTER_ID_PATTERN, cluster_id):
        return [
            Problem(
                key_path("clusterId"),
                cluster_id,
                "use lower-case letters and digits only ([a-z0-9]+): it becomes part of NATS "
                "subjects (cpc.<id>.>), env var and Secret names",
            )
        ]
    return []


def _finds_the_csc_problems(bus: EventBus) -> list[Problem]:
    if bus.csc_stack is None and bus.csc_endpoint is None:
        return [
            Problem(
                key_path("cscStack"),
                None,
                "a CPC must find the CSC: set cscStack (e.g. organization/dsx-bus/csc) or "
                "cscEndpoint (e.g. nats://leaf.csc.example.com:7422)",
            )
        ]
    return []


def _settings_of_the_other_role(fix: str, *settings: tuple[str, object]) -> list[Problem]:
    return [Problem(key_path(key), _plain(value), fix) for key, value in settings if value is not None]


def _leaf_endpoint_problems(leaf_endpoint: str | None) -> list[Problem]:
    if leaf_endpoint is None:
        return [
            Problem(
                key_path("leafEndpoint"),
                None,
                "required on the CSC: the leaf URL CPCs dial, e.g. nats://leaf.csc.example.com:7422",
            )
        ]
    return _url_problems("leafEndpoint", leaf_endpoint)


def _cpc_id_problems(cpcs: dict[str, str]) -> list[Problem]:
    return [
        Problem(key_path("cpcs", cluster_id), cluster_id, "CPC ids use lower-case letters and digits only ([a-z0-9]+)")
        for cluster_id in cpcs
        if not re.fullmatch(naming.CLUSTER_ID_PATTERN, cluster_id)
    ]


def _shared_stack_problems(cpcs: dict[str, str]) -> list[Problem]:
    stacks: dict[str, list[str]] = defaultdict(list)
    for cluster_id, stack in cpcs.items():
        stacks[stack].append(cluster_id)
    return [
        Problem(key_path("cpcs"), ids, f"ids {', '.join(ids)} all name stack {stack!r}: each CPC has its own stack")
        for stack, ids in stacks.items()
        if len(ids) > 1
    ]


def _url_problems(key: str, url: str) -> list[Problem]:
    why = domains.leaf_url_problem(url)
    return [] if why is None else [Problem(key_path(key), url, why)]


def _plain(value: object) -> object:
    if hasattr(value, "model_dump"):
        return value.model_dump(by_alias=True, exclude_defaults=True)
    return value
