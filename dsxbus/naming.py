"""Upstream names: Secrets, env vars, accounts and generated permission entries (INVENTORY §2-§3).

The stock auth-callout image, NACK and Surveyor find their keys by these names, so they are kept
exactly as the upstream chart writes them; nothing else in dsx-bus spells them out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

SYS, AUTH, AUTHX, CSC, CPC = "SYS", "AUTH", "AUTHX", "CSC", "CPC"
SOURCES = "SOURCES"
"""The CSC account holding the per-CPC source streams (topology.sources_account)."""
RESERVED_ACCOUNTS = frozenset({SYS, AUTH, AUTHX, CSC, CPC, SOURCES})

CLUSTER_ID_PATTERN = r"^[a-z0-9]+$"
ACCOUNT_NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9]*$"

NACK_PERMISSION = "nack-controller"
NACK_SOURCES_PERMISSION = "nack-sources"
"""CSC only: NACK's identity in the SOURCES account, where it keeps the per-CPC source streams."""
SURVEYOR_PERMISSION = "surveyor"
MTLS_LEAF_PERMISSIONS = ("mtls-leaf", "mtls-authx-leaf", "mtls-sys-leaf")


def domain_account(cluster_type: str) -> str:
    """The account that is the cluster's own topic space (and JetStream domain): CSC or CPC."""
    return cluster_type.upper()


def account_env_token(account: str) -> str:
    """`LaunchLayer` -> `LAUNCHLAYER`: how an extra account appears in env var names."""
    return re.sub(r"[^A-Z0-9]", "_", account.upper())


def account_secret_token(account: str) -> str:
    """`LaunchLayer` -> `launchlayer`: how an extra account appears in Secret and permission names."""
    return re.sub(r"[^a-z0-9-]", "-", account.lower()).strip("-")


def cpc_stack_cluster_name(cluster_id: str) -> str:
    return f"cpc-{cluster_id}"


def leaf_permission(cluster_id: str, account: str | None = None) -> str:
    """The CSC auth-callout entry that admits one CPC's leaf for one account (None = the CSC account)."""
    if account is None:
        return f"leaf-cpc-{cluster_id}"
    return f"leaf-{account_secret_token(account)}-cpc-{cluster_id}"


def leaf_pubkey_env(cluster_id: str, account: str | None = None) -> str:
    # The id is kept verbatim (lower-case survives), as the upstream chart does.
    if account is None:
        return f"NKEY_LEAF_CPC_{cluster_id}_PUBKEY"
    return f"NKEY_LEAF_{account_env_token(account)}_CPC_{cluster_id}_PUBKEY"


def leaf_seed_env(account: str | None = None) -> str:
    """The env var holding a CPC's leaf seed on its main nats pods."""
    return "LEAF_USER_SEED" if account is None else f"LEAF_{account_env_token(account)}_USER_SEED"


def leaf_seed_secret(account: str | None = None) -> str:
    """The Secret on a CPC holding its leaf seed (key `seed`)."""
    return "nats-leaf-csc" if account is None else f"nats-leaf-{account_secret_token(account)}-csc"


def leaf_pubkey_secret(cluster_id: str, account: str | None = None) -> str:
    """The Secret on the CSC holding one CPC's leaf public key (key `pubkey`)."""
    if account is None:
        return f"nats-leaf-cpc-{cluster_id}"
    return f"nats-leaf-{account_secret_token(account)}-cpc-{cluster_id}"


def generated_permission_names(
    cluster_type: str, mtls: bool, cpc_ids: tuple[str, ...], extra_accounts: tuple[str, ...]
) -> tuple[str, ...]:
    """Every nkey permission entry dsx-bus generates; operator entries must not reuse these names."""
    names = [NACK_PERMISSION, SURVEYOR_PERMISSION]
    if mtls:
        names += MTLS_LEAF_PERMISSIONS
    if cluster_type == "csc":
        names.append(NACK_SOURCES_PERMISSION)
        for cluster_id in cpc_ids:
            names.append(leaf_permission(cluster_id))
            names += [leaf_permission(cluster_id, account) for account in extra_accounts]
    return tuple(names)


@dataclass(frozen=True)
class KeySecret:
    """One upstream Secret dsx-bus generates: its name, the NKey kind and the env var that carries its public key."""

    name: str
    kind: str  # "user" | "account" | "curve"
    pubkey_env: str | None
    seed_env: str | None = None
    """Set where a server reads the seed from env (the nats-mtls leaf users)."""


AUTH_SIGNING = KeySecret("nats-auth-signing", "account", "AUTH_SIGNING_KEY")
XKEY = KeySecret("nats-xkey", "curve", "XKEY_PUBKEY")
AUTHX_USER = KeySecret("nats-authx-user", "user", "AUTHX_USER_NKEY")
NACK_USER = KeySecret("nats-nack-user", "user", "NKEY_NACK_USER_PUBKEY")
SURVEYOR_USER = KeySecret("nats-surveyor", "user", "NKEY_SURVEYOR_PUBKEY")
NACK_SOURCES_USER = KeySecret("nats-nack-sources-user", "user", "NKEY_NACK_SOURCES_PUBKEY")
"""CSC only. Its seed lives in NACK_USER's Secret (`NACK_SOURCES_SEED_FILE`): the nack chart mounts one Secret."""
NACK_NKEY_DIR = "/etc/jsc-nkey"
"""Where the nack chart mounts `jetstream.nats.nkey.secret` (templates/deployment-jetstream-controller.yml)."""
NACK_SEED_FILE = "nack-user.nk"
NACK_SOURCES_SEED_FILE = "nack-sources.nk"
NACK_SOURCES_PUBKEY = "sources-pubkey"
MTLS_LEAF = KeySecret("nats-mtls-leaf", "user", "NKEY_MTLS_LEAF_PUBKEY", "MTLS_LEAF_USER_SEED")
MTLS_AUTHX_LEAF = KeySecret("nats-mtls-authx-leaf", "user", "NKEY_MTLS_AUTHX_LEAF_PUBKEY", "AUTHX_LEAF_USER_SEED")
MTLS_SYS_LEAF = KeySecret("nats-mtls-sys-leaf", "user", "NKEY_MTLS_SYS_LEAF_PUBKEY", "MTLS_SYS_LEAF_USER_SEED")
BASE_KEYS = (AUTH_SIGNING, XKEY, AUTHX_USER, NACK_USER, SURVEYOR_USER)
MTLS_KEYS = (MTLS_LEAF, MTLS_AUTHX_LEAF, MTLS_SYS_LEAF)
AUTH_CALLOUT_KEYS = "auth-callout-keys"  # nkey-seed (authx user), issuer-seed (signing), xkey-seed
MTLS_SERVER_TLS = "nats-mtls-server-tls"
JWKS_KEYS = ("url", "issuer", "audience")
JWKS_ENV_ALIASES: dict[str, tuple[str, ...]] = {
    key: (f"JWKS_{key.upper()}", f"AUTH_CALLOUT_JWKS_{key.upper()}") for key in JWKS_KEYS
}
"""Env vars the auth-callout reads each JWKS setting from, over config.yaml (INVENTORY §3: unprefixed first)."""
ENV_CONFIG_MAP = "nats-env-config"
ENV_CONFIG_MAP_KEYS = ("NATS_CLUSTER_NAME", "NATS_JS_DOMAIN", "NATS_MTLS_SERVER_NAME", "MTLS_LEAF_ACCOUNT")

BASE_ENV_NAMES = (
    "AUTH_CALLOUT_NATS_NKEY_SEED",
    "AUTH_CALLOUT_NATS_ISSUER_SEED",
    "AUTH_CALLOUT_NATS_XKEY_SEED",
    NACK_USER.pubkey_env,
    SURVEYOR_USER.pubkey_env,
)
MTLS_ENV_NAMES = (MTLS_LEAF.pubkey_env, MTLS_AUTHX_LEAF.pubkey_env, MTLS_SYS_LEAF.pubkey_env)


def generated_env_names(
    cluster_type: str, mtls: bool, cpc_ids: tuple[str, ...], extra_accounts: tuple[str, ...]
) -> tuple[str, ...]:
    """The auth-callout env vars dsx-bus sets itself; `authCallout.extraEnvs` must not reuse them."""
    names: list[str] = [n for n in BASE_ENV_NAMES if n]
    if mtls:
        names += [n for n in MTLS_ENV_NAMES if n]
        names.append("AUTH_CALLOUT_MTLS_CA_PATH")
    if cluster_type == "csc":
        names.append(NACK_SOURCES_USER.pubkey_env or "")
        for cluster_id in cpc_ids:
            names.append(leaf_pubkey_env(cluster_id))
            names += [leaf_pubkey_env(cluster_id, account) for account in extra_accounts]
    return tuple(names)


@dataclass(frozen=True)
class EnvSource:
    """Where a pod's env var comes from: a key of an upstream Secret or of the `nats-env-config` ConfigMap."""

    kind: Literal["secret", "configMap"]
    name: str
    key: str


def env_sources(cluster_type: str, cpc_ids: tuple[str, ...], extra_accounts: tuple[str, ...]) -> dict[str, EnvSource]:
    """Every env var a rendered config or the auth-callout may refer to, and where it comes from."""
    sources: dict[str, EnvSource] = {}
    for key in (*BASE_KEYS, *MTLS_KEYS):
        if key.pubkey_env:
            sources[key.pubkey_env] = EnvSource("secret", key.name, "pubkey")
        if key.seed_env:
            sources[key.seed_env] = EnvSource("secret", key.name, "seed")
    if cluster_type == "cpc":
        for account in (None, *extra_accounts):
            sources[leaf_seed_env(account)] = EnvSource("secret", leaf_seed_secret(account), "seed")
    else:
        sources[NACK_SOURCES_USER.pubkey_env or ""] = EnvSource("secret", NACK_USER.name, NACK_SOURCES_PUBKEY)
        for cluster_id in cpc_ids:
            for account in (None, *extra_accounts):
                sources[leaf_pubkey_env(cluster_id, account)] = EnvSource(
                    "secret", leaf_pubkey_secret(cluster_id, account), "pubkey"
                )
    for env in ENV_CONFIG_MAP_KEYS:
        sources[env] = EnvSource("configMap", ENV_CONFIG_MAP, env)
    return sources
