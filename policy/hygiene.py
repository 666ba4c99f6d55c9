"""Policy 6, advisory: production hygiene (noauth, MQTT stream replicas, pinned images)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from dsxbus import images
from policy.reading import (
    K8sObject,
    Later,
    NatsConfig,
    config_of,
    containers,
    is_chart,
    nats_config_of,
    object_of,
    objects_of,
    permissions_document,
    pod_spec,
    prop,
    same_namespace,
    strings_in,
)


def _validate_noauth(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    cm = object_of(args)
    document = permissions_document(cm)
    noauth = document.get("noauth") if document is not None else None
    if not isinstance(noauth, dict):
        return
    permissions = noauth.get("permissions")
    scope = f"with permissions {json.dumps(permissions, sort_keys=True)}" if permissions else "with no restriction"
    report_violation(
        f"{cm.label}: noauth is enabled: every client that brings no credentials lands in account "
        f"{noauth.get('account')!r} {scope}. The auth-callout cannot tell a leaf connection from a client, so a "
        "leaf without a key lands there too (docs/measured-facts.md §3). Fix: remove auth.permissions.noauth for "
        "production, or narrow its permissions to what anonymous clients truly need.",
        None,
    )


def _jetstream_servers(config: NatsConfig) -> int | None:
    """How many JetStream servers a NATS config runs on; None if it runs no JetStream."""
    chart = config.chart or {}
    switches = chart.get("jetstream")
    if "jetstream" not in config.tree and not (isinstance(switches, dict) and switches.get("enabled")):
        return None
    cluster = chart.get("cluster")
    if isinstance(cluster, dict) and cluster.get("enabled"):
        return int(cluster.get("replicas") or 3)  # the nats chart's default cluster size
    # A rendered config lists every server of its cluster as a route.
    block = config.tree.get("cluster")
    routes = block.get("routes") if isinstance(block, dict) else None
    return len(routes) if isinstance(routes, list) and routes else 1


def _validate_stream_replicas(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    resources = objects_of(args)
    later = Later()
    servers: list[tuple[K8sObject, int]] = []
    fix = "Fix: lower mqttStreams.replicas to at most {n}, or raise nats.replicas."
    for resource in resources:
        with later.reading(resource.label):
            config = nats_config_of(resource)
            count = _jetstream_servers(config) if config is not None else None
            if config is None or count is None:
                continue
            servers.append((resource, count))
            mqtt = config.tree.get("mqtt")
            wanted = mqtt.get("stream_replicas") if isinstance(mqtt, dict) else None
            if isinstance(wanted, int | float) and wanted > count:
                report_violation(
                    f"{config.where}: mqtt.stream_replicas = {int(wanted)} but it runs {count} JetStream server(s): "
                    "MQTT cannot create its streams and QoS 1 clients get no CONNACK. " + fix.format(n=count),
                    resource.urn,
                )
    for stream in (r for r in resources if r.is_k8s("Stream") and "jetstream.nats.io" in r.type):
        with later.reading(stream.label):
            replicas = prop(stream.props, "spec", "replicas")
            beside = [(r, n) for r, n in servers if same_namespace(r, stream)]
            if not isinstance(replicas, int | float) or not beside:
                continue
            resource, count = max(beside, key=lambda pair: pair[1])
            if replicas > count:
                name = prop(stream.props, "spec", "name")
                report_violation(
                    f"{stream.label} ({name}): spec.replicas = {int(replicas)} but {resource.label} runs {count} "
                    "JetStream server(s): JetStream cannot place the stream, NACK keeps failing to create it, and MQTT "
                    "QoS 1 and retained messages have nowhere to go. " + fix.format(n=count),
                    stream.urn,
                )
    later.settle()


def _image_problems(value: object, path: str, floating: Sequence[str]) -> Iterator[tuple[str, str, str]]:
    """(where, reference, problem) for every unpinned image in chart values: `image` strings or {repository, tag}."""
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}"
            if key == "image" and isinstance(item, str):
                problem = images.pin_problem(item, floating)
                if problem:
                    yield where, item, problem
            elif key == "image" and isinstance(item, dict) and isinstance(item.get("repository"), str):
                tag = item.get("tag")
                # No tag: the chart's own default, pinned by the chart version.
                if isinstance(tag, str) and tag in floating:
                    reference = f"{item['repository']}:{tag}"
                    yield where, reference, images.pin_problem(reference, floating) or ""
            else:
                yield from _image_problems(item, where, floating)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _image_problems(item, f"{path}[{index}]", floating)


_WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod")


def _validate_images(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    resource = object_of(args)
    floating = strings_in(config_of(args).get("floatingTags")) or ["latest"]
    found: list[tuple[str, str, str]] = []
    if is_chart(resource):
        found += _image_problems(prop(resource.props, "values"), "values", floating)
    elif any(resource.is_k8s(kind) for kind in _WORKLOADS):
        pod = {
            "Pod": prop(resource.props, "spec"),
            "CronJob": prop(resource.props, "spec", "jobTemplate", "spec", "template", "spec"),
        }.get(resource.kind, pod_spec(resource))
        for container in containers(pod if isinstance(pod, dict) else {}):
            reference = container.get("image")
            problem = images.pin_problem(reference, floating) if isinstance(reference, str) else None
            if problem and isinstance(reference, str):
                found.append((f"container {container.get('name')!r} image", reference, problem))
    for where, reference, problem in found:
        report_violation(
            f"{resource.label}: {where} {reference!r} {problem}: a restart or a new node can pull a different "
            "build than the one reviewed. Fix: pin a version tag (or a digest).",
            None,
        )


NOAUTH_DISABLED = ResourceValidationPolicy(
    name="noauth-disabled",
    display_name="No anonymous access in production",
    description="permissions.json has no noauth entry: credential-less clients (and key-less leafs) are refused.",
    validate=_validate_noauth,
    enforcement_level=EnforcementLevel.ADVISORY,
    remediation_steps="Remove auth.permissions.noauth, or narrow its permissions to what anonymous clients need.",
)

MQTT_STREAM_REPLICAS_FIT = StackValidationPolicy(
    name="mqtt-stream-replicas-fit",
    display_name="MQTT streams fit on the NATS servers",
    description="MQTT stream replicas (NACK Stream CRs, mqtt.stream_replicas) do not exceed the JetStream servers.",
    validate=_validate_stream_replicas,
    enforcement_level=EnforcementLevel.ADVISORY,
    remediation_steps="Lower mqttStreams.replicas to at most nats.replicas, or raise nats.replicas.",
)

IMAGES_PINNED = ResourceValidationPolicy(
    name="images-pinned",
    display_name="Images are pinned",
    description="Container images (workloads and chart values) name a version tag or digest, never a floating tag.",
    validate=_validate_images,
    enforcement_level=EnforcementLevel.ADVISORY,
    config_schema=PolicyConfigSchema(
        properties={
            "floatingTags": {
                "type": "array",
                "items": {"type": "string"},
                "default": ["latest"],
                "description": "Tags that move between releases and so do not pin an image.",
            }
        }
    ),
    remediation_steps="Use a version tag (nats:2.12.6-alpine) or a digest (@sha256:...).",
)
