"""The upstream Secrets (INVENTORY §2) filled from generated NKeys, and where each `$VAR` of a config comes from."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi
import pulumi_kubernetes as k8s

from components.keys import NKey
from dsxbus import naming, nkeys, rollout, rotation
from dsxbus.config import EventBus, KeyGenerations

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
    generations: KeyGenerations = field(default_factory=KeyGenerations)
    """`keyGenerations`: raising one draws new keys for that family."""


class ClusterSecrets(pulumi.ComponentResource):
    """Every NKey a cluster needs, in the Secrets and keys the stock images read (no hand-made secrets)."""

    keys: dict[str, NKeyPair]
    leaf_public_keys: pulumi.Output[dict[str, str]]
    """CPC: its leaf users' public keys by account (`CSC`, extra accounts), for the CSC stack to read."""
    next_leaf_public_keys: pulumi.Output[dict[str, str]]
    """CPC: the keys of its next leaf generation, same shape: the CSC admits them before the CPC dials with them."""
    secrets: list[k8s.core.v1.Secret]
    fingerprints: dict[tuple[str, str], pulumi.Input[str]]
    """(Secret, key) -> what changes exactly when its value does, safe to hash into a pod annotation
    (rollout.checksum): for a generated key its name and generation (rollout.generated_key_fingerprint), for the
    CSC's copy of a CPC's leaf public key that key."""

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
        self.fingerprints = {}

        def keep(key: naming.SecretKey, value: pulumi.Input[str], fingerprint: pulumi.Input[str]) -> None:
            values[key] = value
            self.fingerprints[(key.secret, key.key)] = fingerprint

        for key in naming.service_keys(args.cluster_type, args.mtls):
            generation = rotation.service_key_generation(args.generations, key)
            nkey = NKey(f"{name}-{key.name}", key.kind, generation, opts=child)
            self.keys[key.name] = NKeyPair(nkey.seed, nkey.public_key)
            fingerprint = rollout.generated_key_fingerprint(key.name, generation)
            keep(key.seed, nkey.seed, fingerprint)
            keep(key.public_key, nkey.public_key, fingerprint)
        leaf: dict[str, pulumi.Output[str]] = {}
        following_leaf: dict[str, pulumi.Output[str]] = {}
        accounts = (None, *args.extra_accounts)
        if args.cluster_type == "cpc":
            for account in accounts:
                seed = naming.leaf_seed(account)
                generation = rotation.leaf_generation(args.generations)
                # The key it dials with and the next one, pre-published for the CSC to admit (rotation.py).
                current, following = (
                    NKey(
                        f"{name}-{seed.secret}{rotation.leaf_slot_suffix(rotation.leaf_slot(held))}",
                        nkeys.KeyKind.USER,
                        held,
                        opts=child,
                    )
                    for held in rotation.leaf_window_generations(generation)
                )
                self.keys[seed.secret] = NKeyPair(current.seed, current.public_key)
                keep(seed, current.seed, rollout.generated_key_fingerprint(seed.secret, generation))
                leaf[account or naming.CSC] = current.public_key
                following_leaf[account or naming.CSC] = following.public_key
        else:
            for cluster_id, exported in args.cpc_leaf_public_keys.items():
                for account in accounts:
                    # A CPC that has not deployed yet gets an empty key: the Secret must exist because
                    # the auth-callout's secretKeyRefs are not optional (pod would not start), and an
                    # empty public key matches no nkey connection.
                    public_key = exported.apply(_key_of(account or naming.CSC))
                    keep(naming.leaf_public_key(cluster_id, account), public_key, public_key)
        cpc_ids = tuple(args.cpc_leaf_public_keys)
        for held in naming.key_secrets(args.cluster_type, args.mtls, cpc_ids, args.extra_accounts):
            secret(held.name, {key.key: values[key] for key in held.keys})
        self.leaf_public_keys = pulumi.Output.all(**leaf) if leaf else pulumi.Output.from_input({})
        self.next_leaf_public_keys = (
            pulumi.Output.all(**following_leaf) if following_leaf else pulumi.Output.from_input({})
        )
        self.register_outputs(
            {"leafPublicKeys": self.leaf_public_keys, "nextLeafPublicKeys": self.next_leaf_public_keys}
        )

    def start_checksum(
        self,
        env: Mapping[str, Any] | list[dict[str, Any]],
        *,
        config_maps: Mapping[str, Mapping[str, str]] | None = None,
        mounted: tuple[str, ...] = (),
        config: Mapping[str, pulumi.Input[str]] | None = None,
    ) -> pulumi.Output[str]:
        """The rollout checksum of a pod that reads `env` (its Secret and ConfigMap refs), mounts the `mounted`
        Secrets and reads `config` only at start. Fingerprints and config only: never a seed."""
        parts: dict[str, pulumi.Input[str]] = {}
        for ref in rollout.env_references(env):
            if ref.kind == "secret":
                parts[f"env:{ref.env}"] = self.fingerprints[(ref.name, ref.key)]
            else:
                parts[f"env:{ref.env}"] = (config_maps or {})[ref.name][ref.key]
        for (secret_name, key), public_key in self.fingerprints.items():
            if secret_name in mounted:
                parts[f"secret:{secret_name}/{key}"] = public_key
        parts |= {f"config:{name}": value for name, value in (config or {}).items()}
        return pulumi.Output.all(**parts).apply(rollout.checksum)
