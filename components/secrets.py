"""The upstream Secrets (INVENTORY §2) filled from generated NKeys, and where each `$VAR` of a config comes from."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.keys import NKey
from dsxbus import naming, nkeys
from dsxbus.config import EventBus

ENV_CONFIG_MAP = naming.ENV_CONFIG_MAP
LABELS = {"app.kubernetes.io/part-of": "dsx-bus", "app.kubernetes.io/managed-by": "pulumi"}
_KINDS = {"user": nkeys.KeyKind.USER, "account": nkeys.KeyKind.ACCOUNT, "curve": nkeys.KeyKind.CURVE}


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
    bus: EventBus
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
        bus = args.bus
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

        csc_keys = (naming.NACK_SOURCES_USER,) if bus.cluster_type == "csc" else ()
        for key in (*naming.BASE_KEYS, *csc_keys, *(naming.MTLS_KEYS if bus.mtls.enabled else ())):
            nkey = NKey(f"{name}-{key.name}", _KINDS[key.kind], opts=child)
            self.keys[key.name] = NKeyPair(nkey.seed, nkey.public_key)

        k = self.keys
        for key in (naming.AUTH_SIGNING, naming.XKEY, naming.AUTHX_USER):
            secret(key.name, {"pubkey": k[key.name].public_key})
        secret(
            naming.AUTH_CALLOUT_KEYS,
            {
                "nkey-seed": k[naming.AUTHX_USER.name].seed,
                "issuer-seed": k[naming.AUTH_SIGNING.name].seed,
                "xkey-seed": k[naming.XKEY.name].seed,
            },
        )
        # NACK reads its seeds as files: the whole Secret is mounted, `nack-user.nk` is the file it signs in with;
        # on the CSC `nack-sources.nk` is the one the per-CPC source streams (SOURCES account) name.
        nack: dict[str, pulumi.Input[str]] = {
            naming.NACK_SEED_FILE: k[naming.NACK_USER.name].seed,
            "pubkey": k[naming.NACK_USER.name].public_key,
        }
        if bus.cluster_type == "csc":
            nack[naming.NACK_SOURCES_SEED_FILE] = k[naming.NACK_SOURCES_USER.name].seed
            nack[naming.NACK_SOURCES_PUBKEY] = k[naming.NACK_SOURCES_USER.name].public_key
        secret(naming.NACK_USER.name, nack)
        secret(
            naming.SURVEYOR_USER.name,
            {"seed": k[naming.SURVEYOR_USER.name].seed, "pubkey": k[naming.SURVEYOR_USER.name].public_key},
        )
        if bus.mtls.enabled:
            for key in naming.MTLS_KEYS:
                secret(key.name, {"seed": k[key.name].seed, "pubkey": k[key.name].public_key})

        leaf: dict[str, pulumi.Output[str]] = {}
        if bus.cluster_type == "cpc":
            for account in (None, *bus.enabled_extra_accounts):
                secret_name = naming.leaf_seed_secret(account)
                nkey = NKey(f"{name}-{secret_name}", nkeys.KeyKind.USER, opts=child)
                self.keys[secret_name] = NKeyPair(nkey.seed, nkey.public_key)
                secret(secret_name, {"seed": nkey.seed})
                leaf[account or naming.CSC] = nkey.public_key
        else:
            for cluster_id, exported in args.cpc_leaf_public_keys.items():
                for account in (None, *bus.enabled_extra_accounts):
                    # A CPC that has not deployed yet gets an empty key: the Secret must exist because
                    # the auth-callout's secretKeyRefs are not optional (pod would not start), and an
                    # empty public key matches no nkey connection.
                    pubkey = exported.apply(_key_of(account or naming.CSC))
                    secret(naming.leaf_pubkey_secret(cluster_id, account), {"pubkey": pubkey})
        self.leaf_public_keys = pulumi.Output.all(**leaf) if leaf else pulumi.Output.from_input({})
        self.register_outputs({"leafPublicKeys": self.leaf_public_keys})
