"""The program's shell: read and validate the stack config, make the Kubernetes provider, build the cluster."""

from __future__ import annotations

from typing import Any, NoReturn

import pulumi
import pulumi_kubernetes as k8s

from components.cpc import CpcEventBus
from components.csc import CscEventBus
from dsxbus import stackfile
from dsxbus.config import EventBus
from dsxbus.errors import ConfigError, nothing_changed


def load_event_bus() -> EventBus:
    """`dsx-bus:eventBus`, validated; every problem is one `error:` line, then a RunError without traceback."""
    stack = pulumi.get_stack()
    try:
        raw = pulumi.Config().require_object("eventBus")
        bus, warnings = stackfile.parse(raw, source=f"Pulumi.{stack}.yaml")
    except ConfigError as exc:
        _refuse(exc)
    except pulumi.ConfigMissingError:
        pulumi.log.error(f"Pulumi.{stack}.yaml: dsx-bus:eventBus is not set: add `config: {{dsx-bus:eventBus: ...}}`")
        raise pulumi.RunError(nothing_changed(1, "in the stack config")) from None
    for warning in warnings:
        pulumi.log.warn(str(warning))
    return bus


def _refuse(exc: ConfigError) -> NoReturn:
    """One `error:` line per problem, then a RunError (Pulumi prints no traceback for it)."""
    lines = exc.lines()
    for line in lines[:-1]:
        pulumi.log.error(line)
    raise pulumi.RunError(lines[-1]) from None


def kubernetes_provider(bus: EventBus) -> k8s.Provider:
    """An explicit provider: the stack's `kubernetes:context`, or manifests in a directory for GitOps."""
    render_dir = pulumi.Config().get("renderYamlToDirectory")
    if render_dir:
        # Writes manifests and creates nothing; Secrets land in plaintext there (the provider's behaviour).
        return k8s.Provider(bus.cluster_name, render_yaml_to_directory=render_dir)
    return k8s.Provider(
        bus.cluster_name,
        context=pulumi.Config("kubernetes").get("context"),
        enable_server_side_apply=True,
    )


def build(bus: EventBus, provider: k8s.Provider) -> dict[str, Any]:
    """The cluster's component; returns the stack outputs."""
    opts = pulumi.ResourceOptions(provider=provider)
    try:
        component = (
            CscEventBus(bus.cluster_name, bus, opts)
            if bus.cluster_type == "csc"
            else CpcEventBus(bus.cluster_name, bus, opts)
        )
    except ConfigError as exc:  # a referenced stack's outputs (dsxbus.stackoutputs), checked before any resource
        _refuse(exc)
    return component.outputs
