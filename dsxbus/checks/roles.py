"""What each role sets: a CPC finds the CSC and names itself; the CSC lists its CPCs and the leaf URL they dial."""

from __future__ import annotations

import re
from collections import defaultdict
from urllib.parse import urlsplit

from dsxbus import naming
from dsxbus.config import EventBus
from dsxbus.errors import Problem, key_path

_LEAF_SCHEMES = ("nats", "tls", "ws", "wss")


def problems(bus: EventBus) -> list[Problem]:
    found: list[Problem] = []
    if bus.cluster_type == "cpc":
        if bus.cluster_id is None:
            found.append(Problem(key_path("clusterId"), None, 'required on a CPC: set it, e.g. clusterId: "a"'))
        elif not re.match(naming.CLUSTER_ID_PATTERN, bus.cluster_id):
            found.append(
                Problem(
                    key_path("clusterId"),
                    bus.cluster_id,
                    "use lower-case letters and digits only ([a-z0-9]+): it becomes part of NATS "
                    "subjects (cpc.<id>.>), env var and Secret names",
                )
            )
        if bus.csc_stack is None and bus.csc_endpoint is None:
            found.append(
                Problem(
                    key_path("cscStack"),
                    None,
                    "a CPC must find the CSC: set cscStack (e.g. organization/dsx-bus/csc) or "
                    "cscEndpoint (e.g. nats://leaf.csc.example.com:7422)",
                )
            )
        for key, value in (
            ("cpcs", bus.cpcs or None),
            ("leafEndpoint", bus.leaf_endpoint),
            ("cscLeafServerTLS", bus.csc_leaf_server_tls),
        ):
            if value:
                found.append(Problem(key_path(key), _plain(value), "only the CSC has this setting; remove it here"))
        if bus.csc_endpoint is not None:
            found += _url_problems("cscEndpoint", bus.csc_endpoint)
    else:
        for key, value in (
            ("clusterId", bus.cluster_id),
            ("cscStack", bus.csc_stack),
            ("cscEndpoint", bus.csc_endpoint),
            ("cpcLeafClientTLS", bus.cpc_leaf_client_tls),
        ):
            if value is not None:
                found.append(Problem(key_path(key), _plain(value), "only a CPC has this setting; remove it here"))
        if bus.leaf_endpoint is None:
            found.append(
                Problem(
                    key_path("leafEndpoint"),
                    None,
                    "required on the CSC: the leaf URL CPCs dial, e.g. nats://leaf.csc.example.com:7422",
                )
            )
        else:
            found += _url_problems("leafEndpoint", bus.leaf_endpoint)
        stacks: dict[str, list[str]] = defaultdict(list)
        for cluster_id, stack in bus.cpcs.items():
            stacks[stack].append(cluster_id)
            if not re.match(naming.CLUSTER_ID_PATTERN, cluster_id):
                found.append(
                    Problem(
                        key_path("cpcs", cluster_id),
                        cluster_id,
                        "CPC ids use lower-case letters and digits only ([a-z0-9]+)",
                    )
                )
        for stack, ids in stacks.items():
            if len(ids) > 1:
                found.append(
                    Problem(
                        key_path("cpcs"),
                        ids,
                        f"ids {', '.join(ids)} all name stack {stack!r}: each CPC has its own stack",
                    )
                )
        if not bus.cpcs:
            found.append(
                Problem(key_path("cpcs"), {}, "no CPCs yet: the CSC accepts no leaf connections", warning=True)
            )
    return found


def _url_problems(key: str, url: str) -> list[Problem]:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme not in _LEAF_SCHEMES or not parts.hostname or port is None:
        return [
            Problem(
                key_path(key),
                url,
                f"write a leaf URL with scheme ({', '.join(_LEAF_SCHEMES)}), host and port, "
                "e.g. nats://leaf.csc.example.com:7422",
            )
        ]
    return []


def _plain(value: object) -> object:
    if hasattr(value, "model_dump"):
        return value.model_dump(by_alias=True, exclude_defaults=True)
    return value
