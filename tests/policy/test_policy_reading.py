"""reading.py's lookups answer as a scan of the stack in order would, including values unknown in preview."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError, unknown_checking_proxy

from policy.reading import Environment, K8sObject, same_namespace

Outcome = tuple[str, str | None]


def _object(kind: str, name: Any, namespace: Any = "bus") -> K8sObject:
    props = unknown_checking_proxy({"metadata": {"name": name, "namespace": namespace}, "stringData": {"k": name}})
    return K8sObject(f"kubernetes:core/v1:{kind}", f"pulumi-{name}", f"urn:{kind}:{name}", props)


def _scan(resources: list[K8sObject], kind: str, name: str, near: K8sObject) -> Outcome:
    """The lookup as a linear scan (what Environment did before it indexed): the first unknown met raises."""
    try:
        found = next(
            (r for r in resources if r.is_k8s(kind) and r.object_name == name and same_namespace(r, near)), None
        )
    except UnknownValueError as exc:
        return "unknown", exc.message
    return ("found", found.urn) if found is not None else ("none", None)


def _indexed(resources: list[K8sObject], kind: str, name: str, workload: K8sObject) -> Outcome:
    environment = Environment([workload], resources)
    try:
        setting = environment.get("V")
    except UnknownValueError as exc:
        return "unknown", exc.message
    assert setting is not None
    if setting.value is None:
        return "none", None
    return "found", f"urn:{kind}:{setting.value}"


def _workload(kind: str, name: str) -> K8sObject:
    ref = {"secretKeyRef" if kind == "Secret" else "configMapKeyRef": {"name": name, "key": "k"}}
    pod = {"containers": [{"name": "c", "env": [{"name": "V", "valueFrom": ref}]}]}
    props = unknown_checking_proxy({"metadata": {"namespace": "bus"}, "spec": {"template": {"spec": pod}}})
    return K8sObject("kubernetes:apps/v1:Deployment", "callout", "urn:Deployment", props)


POOL = [
    _object("Secret", "a"),
    _object("Secret", "a", namespace="elsewhere"),
    _object("Secret", "b"),
    _object("Secret", UNKNOWN_STRING_VALUE),
    _object("Secret", "a", namespace=UNKNOWN_STRING_VALUE),
    _object("ConfigMap", "a"),
]


ORDERS = [order for size in range(1, 5) for order in itertools.permutations(range(len(POOL)), size)]


@pytest.mark.parametrize("order", ORDERS)
def test_an_env_value_from_a_secret_is_found_as_a_scan_in_stack_order_finds_it(order: tuple[int, ...]) -> None:
    resources = [POOL[i] for i in order]
    workload = _workload("Secret", "a")
    # The Secret named in the env var's value is its own name (stringData.k), so the found value names it.
    assert _indexed(resources, "Secret", "a", workload) == _scan(resources, "Secret", "a", workload)
