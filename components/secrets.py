"""The upstream Secrets (INVENTORY §2) filled from generated NKeys, and where each `$VAR` of a config comes from."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi
import pulumi_kubernetes as k8s

from components.keys import NKey
from dsxbus import naming, nkeys
from dsxbus.config import EventBus

ENV_CONFIG_MAP = naming.ENV_CONFIG_MAP
LABELS = {"app.kubernetes.io/part-of": "dsx-bus", "app.kubernetes.io/managed-by": "pulumi"}


def env_sources(bus: EventBus) -> dict[str, dict[str, Any]]:
    """Env var -> its `valueFrom`, for every var a config may use (names from dsxbus.naming)."""
    kinds = {"secret": "secretKeyRef", "configMap": "configMapKeyRef"}
    return {
        env: {"valueFrom": {kinds[source.kind]: {"name": source.name, "key": source.key}}}
        for env, source in naming.env_sources(bus.cluster_type, bus.cpc_ids, bus.enabled_extra_accounts).items()
    }


def _key_of(account: str) -> Callable[[Mapping[str, str] | None], str]:
    return lambda keys: (keys or {}).get(account) or ""


@dataclass(frozen=True)
class NKeyPair:
    seed: pulumi.Output[str]
    public_key: pulumi.Output[str]


@dataclass(frozen=True)
class ClusterSecretsArgs:
    namespace: pulumi.Input[str]
    cluster_type: Literal["csc", "cpc"]
    mtls: bool
    """nats-mtls runs: its three leaf keys."""
    extra_accounts: tuple[str, ...]
    """The enabled extra accounts: a leaf key each (CPC), a leaf public key per CPC each (CSC)."""
    cpc_leaf_public_keys: Mapping[str, pulumi.Output[dict[str, str] | None]] = field(default_factory=dict)
    """CSC: each listed CPC's exported `leafPublicKeys` ({"CSC": U..., "<Account>": U...}); None = not deployed."""


class ClusterSecrets(pulumi.ComponentResource):
    """Every NKey a cluster needs, in the Secrets and keys the stock images read (no hand-made secrets)."""

    keys: dict[str, NKeyPair]
    leaf_public_keys: pulumi.Output[dict[str, str]]
    """CPC: its leaf users' public keys by account (`CSC`, extra accounts), for the CSC stack to read."""
    secrets: list[k8s.core.v1.Secret]

    def __init__(self, name: str, args: ClusterSecretsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("dsx-bus:secrets:ClusterSecrets", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.secrets = []
        self.keys = {}

        def secret(secret_name: str, data: Mapping[str, pulumi.Input[str]]) -> None:
            self.secrets.append(
                k8s.core.v1.Secret(
                    f"{name}-{secret_name}",
                    metadata={"name": secret_name, "namespace": args.namespace, "labels": LABELS},
                    type="Opaque",
                    string_data=dict(data),
                    opts=child,
                )
            )

        # The keys and their values; naming.key_secrets says which Secret holds each.
        values: dict[naming.SecretKey, pulumi.Input[str]] = {}
        for key in naming.service_keys(args.cluster_type, args.mtls):
            nkey = NKey(f"{name}-{key.name}", key.kind, opts=child)
            self.keys[key.name] = NKeyPair(nkey.seed, nkey.public_key)
            values[key.seed], values[key.public_key] = nkey.seed, nkey.public_key
        leaf: dict[str, pulumi.Output[str]] = {}
        accounts = (None, *args.extra_accounts)
        if args.cluster_type == "cpc":
            for account in accounts:
                seed = naming.leaf_seed(account)
                nkey = NKey(f"{name}-{seed.secret}", nkeys.KeyKind.USER, opts=child)
                self.keys[seed.secret] = NKeyPair(nkey.seed, nkey.public_key)
                values[seed] = nkey.seed
                leaf[account or naming.CSC] = nkey.public_key
        else:
            for cluster_id, exported in args.cpc_leaf_public_keys.items():
                for account in accounts:
                    # A CPC that has not deployed yet gets an empty key: the Secret must exist because
                    # the auth-callout's secretKeyRefs are not optional (pod would not start), and an
                    # empty public key matches no nkey connection.
                    values[naming.leaf_public_key(cluster_id, account)] = exported.apply(_key_of(account or naming.CSC))
        cpc_ids = tuple(args.cpc_leaf_public_keys)
        for held in naming.key_secrets(args.cluster_type, args.mtls, cpc_ids, args.extra_accounts):
            secret(held.name, {key.key: values[key] for key in held.keys})
        self.leaf_public_keys = pulumi.Output.all(**leaf) if leaf else pulumi.Output.from_input({})
        self.register_outputs({"leafPublicKeys": self.leaf_public_keys})
