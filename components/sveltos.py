"""Sveltos on the bus: the agent's client certificate and `sveltos-nats` Secret, streams, EventSources, triggers."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

import pulumi
import pulumi_kubernetes as k8s

from components.secrets import LABELS
from dsxbus.config import CertificateIssuer
from dsxbus.errors import DsxBusError
from dsxbus.sveltos import agent, manifests, sync
from dsxbus.sveltos.config import Sveltos

WAIT_FOR_READY = {"pulumi.com/waitFor": "condition=Ready"}


def messaging_json(block: Sveltos, namespace: str, secret: str, data: Mapping[str, str] | None) -> str:
    """The agent's JSON from the client TLS Secret's data (already base64 PEM, decoded and re-encoded checked)."""
    data = data or {}
    missing = [key for key in ("tls.crt", "tls.key") if not data.get(key)]
    if missing:
        raise DsxBusError(
            f"Secret {namespace}/{secret} has no {' or '.join(missing)}: Sveltos needs its client certificate. "
            "Check the Certificate's status (kubectl describe certificate -n "
            f"{namespace} {secret}) or fill the Secret, then run `pulumi up` again"
        )
    ca = data.get("ca.crt")
    return agent.messaging_config(
        block,
        server_url=agent.url(namespace),
        certificate=base64.b64decode(data["tls.crt"]),
        key=base64.b64decode(data["tls.key"]),
        ca=base64.b64decode(ca) if ca else b"",
    ).to_json()


@dataclass(frozen=True)
class SveltosArgs:
    namespace: str
    block: Sveltos
    identity: str
    """The agent's certificate identity (`Sveltos.identity_for` the cluster)."""
    issuer: CertificateIssuer | None
    """mtls.certificateIssuer: requests the agent's certificate unless the block names its own Secret."""


class SveltosOnBus(pulumi.ComponentResource):
    """Everything Sveltos needs on one cluster; the agent signs in as an mTLS identity (see permissions.py)."""

    def __init__(self, name: str, args: SveltosArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("dsx-bus:sveltos:SveltosOnBus", name, None, opts)
        namespace, block, identity, issuer = args.namespace, args.block, args.identity, args.issuer
        child = pulumi.ResourceOptions(parent=self)
        secret_name = block.client_certificate_secret or agent.CLIENT_TLS_SECRET
        secret_id: pulumi.Output[str]
        if block.client_certificate_secret is None and issuer is not None:
            certificate = k8s.apiextensions.CustomResource(
                f"{name}-client-certificate",
                api_version="cert-manager.io/v1",
                kind="Certificate",
                # Wait until cert-manager has written the Secret: it is read right after.
                metadata={"name": secret_name, "namespace": namespace, "labels": LABELS, "annotations": WAIT_FOR_READY},
                spec={
                    "secretName": secret_name,
                    "commonName": identity.removeprefix("CN="),
                    "usages": ["client auth", "digital signature", "key encipherment"],
                    "issuerRef": {"name": issuer.name, "kind": issuer.kind, "group": issuer.group},
                },
                opts=child,
            )
            # Known once the Certificate exists; in the preview of a first deployment the read waits.
            secret_id = certificate.id.apply(lambda _: f"{namespace}/{secret_name}")
        else:
            secret_id = pulumi.Output.from_input(f"{namespace}/{secret_name}")
        client_tls = k8s.core.v1.Secret.get(f"{name}-client-tls", secret_id, opts=child)
        config: pulumi.Output[str] = pulumi.Output.secret(
            client_tls.data.apply(lambda data: messaging_json(block, namespace, secret_name, data))
        )
        k8s.core.v1.Secret(
            f"{name}-{agent.SECRET_NAME}",
            metadata={"name": agent.SECRET_NAME, "namespace": agent.SECRET_NAMESPACE, "labels": LABELS},
            type="Opaque",
            data={agent.SECRET_KEY: config.apply(lambda text: base64.b64encode(text.encode()).decode())},
            opts=child,
        )
        self._credential_sync(name, namespace, block, secret_name, client_tls)
        self._streams(name, namespace, block)
        for rule in block.event_rules:
            templates = [
                k8s.core.v1.ConfigMap(
                    f"{name}-template-{template.namespace}-{cm_name}",
                    metadata={
                        "name": cm_name,
                        "namespace": template.namespace,
                        "labels": LABELS,
                        # Without it Sveltos deploys the data as is instead of instantiating it per event.
                        "annotations": {manifests.INSTANTIATE_ANNOTATION: "ok"},
                    },
                    data=dict(template.data),
                    opts=child,
                )
                for cm_name, template in rule.templates.items()
            ]
            source = manifests.event_source(rule)
            event_source = k8s.apiextensions.CustomResource(
                f"{name}-eventsource-{rule.name}",
                api_version=source["apiVersion"],
                kind=source["kind"],
                metadata={**source["metadata"], "labels": LABELS},
                spec=source["spec"],
                opts=child,
            )
            trigger = manifests.event_trigger(rule)
            k8s.apiextensions.CustomResource(
                f"{name}-eventtrigger-{rule.name}",
                api_version=trigger["apiVersion"],
                kind=trigger["kind"],
                metadata={**trigger["metadata"], "labels": LABELS},
                spec=trigger["spec"],
                # The CRD makes oneForEvent immutable (CEL `self == oldSelf`): an update changing it is refused,
                # so a change replaces the trigger, deleted first as the new one has the same name.
                opts=pulumi.ResourceOptions(
                    parent=self,
                    depends_on=[event_source, *templates],
                    replace_on_changes=["spec.oneForEvent"],
                    delete_before_replace=True,
                ),
            )
        pulumi.log.info(agent.NATS_WATCHER_NOTE, self)
        self.register_outputs(
            {
                "url": agent.url(namespace),
                "identity": identity,
                "subjects": list(block.subscriptions()),
                "eventRules": [rule.name for rule in block.event_rules],
            }
        )

    def _credential_sync(
        self, name: str, namespace: str, block: Sveltos, secret_name: str, client_tls: k8s.core.v1.Secret
    ) -> None:
        """The CronJob that keeps `sveltos-nats` on the renewed certificate (dsxbus.sveltos.sync), and the least
        it may do: read the certificate Secret, read and patch `sveltos-nats`."""
        child = pulumi.ResourceOptions(parent=self)
        labels = {**LABELS, "app.kubernetes.io/name": sync.NAME}
        account = k8s.core.v1.ServiceAccount(
            f"{name}-sync-sa", metadata={"name": sync.NAME, "namespace": namespace, "labels": labels}, opts=child
        )
        grants = {namespace: (secret_name, ["get"]), agent.SECRET_NAMESPACE: (agent.SECRET_NAME, ["get", "patch"])}
        for where, (secret, verbs) in grants.items():
            rule = cast(Any, [{"apiGroups": [""], "resources": ["secrets"], "resourceNames": [secret], "verbs": verbs}])
            role = k8s.rbac.v1.Role(
                f"{name}-sync-role-{where}",
                metadata=cast(Any, {"name": sync.NAME, "namespace": where, "labels": labels}),
                rules=rule,
                opts=child,
            )
            k8s.rbac.v1.RoleBinding(
                f"{name}-sync-binding-{where}",
                metadata=cast(Any, {"name": sync.NAME, "namespace": where, "labels": labels}),
                role_ref=cast(Any, {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": sync.NAME}),
                subjects=cast(Any, [{"kind": "ServiceAccount", "name": sync.NAME, "namespace": namespace}]),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[role, account]),
            )
        with_ca = client_tls.data.apply(lambda data: bool((data or {}).get("ca.crt")))
        files = k8s.core.v1.ConfigMap(
            f"{name}-sync-files",
            metadata={"name": sync.NAME, "namespace": namespace, "labels": labels},
            data={
                sync.SCRIPT_KEY: sync.SCRIPT,
                sync.TEMPLATE_KEY: with_ca.apply(lambda ca: sync.template(block, namespace, ca)),
            },
            opts=child,
        )
        env = [{"name": k, "value": v} for k, v in sync.environment(namespace, secret_name).items()]
        container = {
            "name": "sync",
            "image": block.credential_sync_image,
            "command": ["/bin/sh", f"{sync.MOUNT_PATH}/{sync.SCRIPT_KEY}"],
            "env": env,
            "volumeMounts": [{"name": "files", "mountPath": sync.MOUNT_PATH, "readOnly": True}],
            "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"cpu": "100m", "memory": "64Mi"}},
        }
        k8s.batch.v1.CronJob(
            f"{name}-sync",
            metadata={"name": sync.NAME, "namespace": namespace, "labels": labels},
            spec=cast(
                Any,
                {
                    "schedule": block.credential_sync_schedule,
                    "concurrencyPolicy": "Forbid",
                    "jobTemplate": {
                        "spec": {
                            "backoffLimit": 2,
                            "template": {
                                "metadata": {"labels": labels},
                                "spec": {
                                    "serviceAccountName": sync.NAME,
                                    "restartPolicy": "OnFailure",
                                    "containers": [container],
                                    "volumes": [{"name": "files", "configMap": {"name": sync.NAME}}],
                                },
                            },
                        }
                    },
                },
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[files, account]),
        )

    def _streams(self, name: str, namespace: str, block: Sveltos) -> None:
        for spec, consumer in zip(manifests.nack_streams(block), manifests.nack_consumers(block), strict=True):
            resource_name = manifests.stream_object_token(spec["name"])
            stream = k8s.apiextensions.CustomResource(
                f"{name}-stream-{resource_name}",
                api_version="jetstream.nats.io/v1beta2",
                kind="Stream",
                metadata={"name": f"sveltos-{resource_name}", "namespace": namespace, "labels": LABELS},
                spec=spec,
                opts=pulumi.ResourceOptions(parent=self),
            )
            k8s.apiextensions.CustomResource(
                f"{name}-consumer-{resource_name}",
                api_version="jetstream.nats.io/v1beta2",
                kind="Consumer",
                metadata={"name": f"sveltos-{resource_name}", "namespace": namespace, "labels": LABELS},
                spec=consumer,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[stream]),
            )
