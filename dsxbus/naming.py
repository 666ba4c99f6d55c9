"""Upstream names: Secrets, their keys, env vars, accounts and generated permission entries (INVENTORY §2-§3).

The stock auth-callout image, NACK and Surveyor find their keys by these names, so they are kept
exactly as the upstream chart writes them; nothing else in dsx-bus spells them out. One table says
where each generated NKey is kept (`ServiceKey`, `leaf_seed`, `leaf_public_key`); which Secrets a
cluster gets (`key_secrets`), where each env var comes from (`env_sources`) and which names dsx-bus
reserves (`generated_env_names`, `generated_permission_names`) are read off it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from dsxbus.nkeys import KeyKind

SYS, AUTH, AUTHX, CSC, CPC = "SYS", "AUTH", "AUTHX", "CSC", "CPC"
SOURCES = "SOURCES"
"""The CSC account holding the per-CPC source streams (topology.sources_account)."""
RESERVED_ACCOUNTS = frozenset({SYS, AUTH, AUTHX, CSC, CPC, SOURCES})


def cpc_account(cluster_id: str) -> str:
    """`CPC-a`: the account CPC `a`'s leaf lands in on the CSC (topology.cpc_account_on_csc).

    Never an extra account's name: those have no `-` (ACCOUNT_NAME_PATTERN).
    """
    return f"{CPC}-{cluster_id}"


CLUSTER_ID_PATTERN = r"^[a-z0-9]+$"
ACCOUNT_NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9]*$"

NACK_PERMISSION = "nack-controller"
NACK_SOURCES_PERMISSION = "nack-sources"
"""CSC only: NACK's identity in the SOURCES account, where it keeps the per-CPC source streams."""
SURVEYOR_PERMISSION = "surveyor"
MTLS_LEAF_PERMISSION = "mtls-leaf"
MTLS_AUTHX_LEAF_PERMISSION = "mtls-authx-leaf"
MTLS_SYS_LEAF_PERMISSION = "mtls-sys-leaf"
MTLS_LEAF_PERMISSIONS = (MTLS_LEAF_PERMISSION, MTLS_AUTHX_LEAF_PERMISSION, MTLS_SYS_LEAF_PERMISSION)


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


# ---- the keys table ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SecretKey:
    """One data key of an upstream Secret, and the env var a pod reads it into."""

    secret: str
    key: str
    env: str | None = None
    """None where the Secret is mounted or read by a chart itself (NACK's seed files, Surveyor's seed)."""


@dataclass(frozen=True)
class ServiceKey:
    """An NKey dsx-bus generates for one of a cluster's own services, and the Secret keys holding its two halves.

    A CPC's leaf keys are not among them: `leaf_seed` keeps a CPC's seed, `leaf_public_key` the CSC's copy of its
    public key (which travels between the stacks as an output).
    """

    name: str
    """Its Pulumi resources are named after it; so is the Secret holding its public key, but for NACK's SOURCES key
    (kept in NACK's Secret)."""
    kind: KeyKind
    seed: SecretKey
    public_key: SecretKey

    @property
    def seed_env(self) -> str | None:
        return self.seed.env

    @property
    def pubkey_env(self) -> str | None:
        return self.public_key.env


SEED, PUBKEY = "seed", "pubkey"
"""The keys of a Secret that holds one NKey, as upstream writes them."""
AUTH_CALLOUT_KEYS = "auth-callout-keys"
"""The auth-callout's seeds, in one Secret: how it signs in (AUTHX user), signs its answers and decrypts requests."""


def _user_held_alone(name: str, pubkey_env: str, seed_env: str | None = None) -> ServiceKey:
    """A user key whose Secret of its own name holds both halves, as `seed` and `pubkey`."""
    return ServiceKey(name, KeyKind.USER, SecretKey(name, SEED, seed_env), SecretKey(name, PUBKEY, pubkey_env))


AUTH_SIGNING = ServiceKey(
    "nats-auth-signing",
    KeyKind.ACCOUNT,
    SecretKey(AUTH_CALLOUT_KEYS, "issuer-seed", "AUTH_CALLOUT_NATS_ISSUER_SEED"),
    SecretKey("nats-auth-signing", PUBKEY, "AUTH_SIGNING_KEY"),
)
XKEY = ServiceKey(
    "nats-xkey",
    KeyKind.CURVE,
    SecretKey(AUTH_CALLOUT_KEYS, "xkey-seed", "AUTH_CALLOUT_NATS_XKEY_SEED"),
    SecretKey("nats-xkey", PUBKEY, "XKEY_PUBKEY"),
)
AUTHX_USER = ServiceKey(
    "nats-authx-user",
    KeyKind.USER,
    SecretKey(AUTH_CALLOUT_KEYS, "nkey-seed", "AUTH_CALLOUT_NATS_NKEY_SEED"),
    SecretKey("nats-authx-user", PUBKEY, "AUTHX_USER_NKEY"),
)
CALLOUT_SEEDS = (AUTHX_USER.seed, AUTH_SIGNING.seed, XKEY.seed)
"""The keys of `auth-callout-keys`, in the order upstream gives the auth-callout their env vars."""

# NACK reads its seeds as files: the nack chart mounts one Secret (`jetstream.nats.nkey.secret`) whole, and the
# `nkey` of each Stream names a file in it. `nack-user.nk` is the one it signs in with.
NACK_NKEY_DIR = "/etc/jsc-nkey"
"""Where the nack chart mounts that Secret (templates/deployment-jetstream-controller.yml)."""
NACK_USER = ServiceKey(
    "nats-nack-user",
    KeyKind.USER,
    SecretKey("nats-nack-user", "nack-user.nk"),
    SecretKey("nats-nack-user", PUBKEY, "NKEY_NACK_USER_PUBKEY"),
)
NACK_SOURCES_USER = ServiceKey(
    "nats-nack-sources-user",
    KeyKind.USER,
    SecretKey(NACK_USER.seed.secret, "nack-sources.nk"),
    SecretKey(NACK_USER.seed.secret, "sources-pubkey", "NKEY_NACK_SOURCES_PUBKEY"),
)
"""CSC only: NACK in the SOURCES account (the per-CPC source streams), kept in NACK_USER's Secret."""
SURVEYOR_USER = _user_held_alone("nats-surveyor", "NKEY_SURVEYOR_PUBKEY")
# nats-mtls's three leaf users: nats-mtls reads their seeds from env, the auth-callout their public keys.
MTLS_LEAF = _user_held_alone("nats-mtls-leaf", "NKEY_MTLS_LEAF_PUBKEY", "MTLS_LEAF_USER_SEED")
MTLS_AUTHX_LEAF = _user_held_alone("nats-mtls-authx-leaf", "NKEY_MTLS_AUTHX_LEAF_PUBKEY", "AUTHX_LEAF_USER_SEED")
MTLS_SYS_LEAF = _user_held_alone("nats-mtls-sys-leaf", "NKEY_MTLS_SYS_LEAF_PUBKEY", "MTLS_SYS_LEAF_USER_SEED")
BASE_KEYS = (AUTH_SIGNING, XKEY, AUTHX_USER, NACK_USER, SURVEYOR_USER)
MTLS_KEYS = (MTLS_LEAF, MTLS_AUTHX_LEAF, MTLS_SYS_LEAF)


def service_keys(cluster_type: str, mtls: bool) -> tuple[ServiceKey, ...]:
    """Every service NKey one cluster generates."""
    csc = (NACK_SOURCES_USER,) if cluster_type == "csc" else ()
    return (*BASE_KEYS, *csc, *(MTLS_KEYS if mtls else ()))


def leaf_seed_env(account: str | None = None) -> str:
    """The env var holding a CPC's leaf seed on its main nats pods."""
    return "LEAF_USER_SEED" if account is None else f"LEAF_{account_env_token(account)}_USER_SEED"


def leaf_seed_secret(account: str | None = None) -> str:
    """The Secret on a CPC holding its leaf seed (key `seed`)."""
    return "nats-leaf-csc" if account is None else f"nats-leaf-{account_secret_token(account)}-csc"


def leaf_seed(account: str | None = None) -> SecretKey:
    """Where a CPC keeps the seed of its leaf user for the CSC account (None) or an extra account."""
    return SecretKey(leaf_seed_secret(account), SEED, leaf_seed_env(account))


def leaf_pubkey_env(cluster_id: str, account: str | None = None) -> str:
    # The id is kept verbatim (lower-case survives), as the upstream chart does.
    if account is None:
        return f"NKEY_LEAF_CPC_{cluster_id}_PUBKEY"
    return f"NKEY_LEAF_{account_env_token(account)}_CPC_{cluster_id}_PUBKEY"


def leaf_pubkey_secret(cluster_id: str, account: str | None = None) -> str:
    """The Secret on the CSC holding one CPC's leaf public key (key `pubkey`)."""
    if account is None:
        return f"nats-leaf-cpc-{cluster_id}"
    return f"nats-leaf-{account_secret_token(account)}-cpc-{cluster_id}"


def leaf_public_key(cluster_id: str, account: str | None = None) -> SecretKey:
    """Where the CSC keeps one CPC's leaf public key, for the auth-callout to admit that leaf."""
    return SecretKey(leaf_pubkey_secret(cluster_id, account), PUBKEY, leaf_pubkey_env(cluster_id, account))


MTLS_SERVER_TLS = "nats-mtls-server-tls"
"""The nats-mtls server certificate (ca.crt, tls.crt, tls.key): the operator's or cert-manager's, never generated."""


@dataclass(frozen=True)
class KeySecret:
    """An upstream Secret dsx-bus writes, and the keys it holds."""

    name: str
    keys: tuple[SecretKey, ...]


def key_secrets(
    cluster_type: str, mtls: bool, cpc_ids: tuple[str, ...], extra_accounts: tuple[str, ...]
) -> tuple[KeySecret, ...]:
    """Every Secret of generated keys one cluster gets (INVENTORY §2), each with its keys, in table order."""
    held = [half for key in service_keys(cluster_type, mtls) for half in (key.seed, key.public_key)]
    if cluster_type == "cpc":
        held += [leaf_seed(account) for account in (None, *extra_accounts)]
    else:
        held += [leaf_public_key(cluster_id, account) for cluster_id in cpc_ids for account in (None, *extra_accounts)]
    by_secret: dict[str, list[SecretKey]] = {}
    for key in held:
        by_secret.setdefault(key.secret, []).append(key)
    return tuple(KeySecret(name, tuple(keys)) for name, keys in by_secret.items())


# ---- the nkey entries dsx-bus generates in permissions.json -------------------------------------------------------


def leaf_permission(cluster_id: str, account: str | None = None) -> str:
    """The CSC auth-callout entry that admits one CPC's leaf for one account (None = the CSC account)."""
    if account is None:
        return f"leaf-cpc-{cluster_id}"
    return f"leaf-{account_secret_token(account)}-cpc-{cluster_id}"


NEXT_LEAF_SUFFIX = "-next"


def next_leaf_permission(cluster_id: str, account: str | None = None) -> str:
    """`leaf-cpc-a-next`: the CSC entry admitting the next key a CPC pre-publishes for that leaf (dsxbus.rotation)."""
    return leaf_permission(cluster_id, account) + NEXT_LEAF_SUFFIX


@dataclass(frozen=True)
class NkeyUser:
    """An nkey entry dsx-bus generates in permissions.json: its name, the key it admits and the account it gives."""

    permission: str
    public_key: SecretKey
    """Where the auth-callout reads the public key from (the entry names its env var, `${...}`)."""
    account: str


def generated_users(
    cluster_type: str, mtls: bool, cpc_ids: tuple[str, ...], extra_accounts: tuple[str, ...]
) -> tuple[NkeyUser, ...]:
    """Every nkey entry dsx-bus generates on one cluster: NACK, Surveyor, nats-mtls's leafs, and on the CSC NACK in
    SOURCES and each CPC's leafs (permissions.generated_nkey_entries gives them their grants)."""
    domain = domain_account(cluster_type)
    users = [
        NkeyUser(NACK_PERMISSION, NACK_USER.public_key, domain),
        NkeyUser(SURVEYOR_PERMISSION, SURVEYOR_USER.public_key, SYS),
    ]
    if mtls:
        users += [
            NkeyUser(MTLS_LEAF_PERMISSION, MTLS_LEAF.public_key, domain),
            NkeyUser(MTLS_AUTHX_LEAF_PERMISSION, MTLS_AUTHX_LEAF.public_key, AUTHX),
            NkeyUser(MTLS_SYS_LEAF_PERMISSION, MTLS_SYS_LEAF.public_key, SYS),
        ]
    if cluster_type == "csc":
        users.append(NkeyUser(NACK_SOURCES_PERMISSION, NACK_SOURCES_USER.public_key, SOURCES))
        for cluster_id in cpc_ids:
            for account in (None, *extra_accounts):
                key = leaf_public_key(cluster_id, account)
                users.append(NkeyUser(leaf_permission(cluster_id, account), key, account or cpc_account(cluster_id)))
    return tuple(users)


def generated_permission_names(
    cluster_type: str, mtls: bool, cpc_ids: tuple[str, ...], extra_accounts: tuple[str, ...]
) -> tuple[str, ...]:
    """Every nkey permission entry dsx-bus generates; operator entries must not reuse these names."""
    return tuple(user.permission for user in generated_users(cluster_type, mtls, cpc_ids, extra_accounts))


@dataclass(frozen=True)
class LeafEntryName:
    """Whose leaf a permissions.json nkey entry admits, or a CSC Secret holds the public key of."""

    cluster_id: str
    account_token: str | None
    """None: the CPC's CSC-account leaf; else the extra account's Secret token (`launchlayer`)."""
    next: bool = False
    """An entry admitting the leaf's pre-published next key (`-next`), not the key it dials with now."""


# The inverses of leaf_permission and leaf_pubkey_secret (tests/unit/test_naming.py checks each undoes the other).
_LEAF_PERMISSION = re.compile(
    r"^leaf-(?:(?P<account>[a-z0-9-]+?)-)?cpc-(?P<cluster_id>[a-z0-9]+)(?P<next>" + NEXT_LEAF_SUFFIX + ")?$"
)
_LEAF_SECRET = re.compile(r"^nats-leaf-(?:(?P<account>[a-z0-9-]+?)-)?cpc-(?P<cluster_id>[a-z0-9]+)$")


def leaf_entry_name(name: str) -> LeafEntryName | None:
    """`leaf-cpc-a` -> (a, None); `leaf-launchlayer-cpc-a` -> (a, launchlayer); `leaf-cpc-a-next` -> (a, None,
    next); anything else -> None."""
    match = _LEAF_PERMISSION.fullmatch(name)
    if match is None:
        return None
    return LeafEntryName(match.group("cluster_id"), match.group("account"), match.group("next") is not None)


def leaf_secret_name(name: str) -> LeafEntryName | None:
    """`nats-leaf-cpc-a` -> (a, None): whose leaf public key a CSC Secret holds."""
    match = _LEAF_SECRET.fullmatch(name)
    return None if match is None else LeafEntryName(match.group("cluster_id"), match.group("account"))


# ---- env vars ----------------------------------------------------------------------------------------------------

MTLS_CA_PATH_ENV = "AUTH_CALLOUT_MTLS_CA_PATH"
"""Where the auth-callout finds the CA of the mTLS clients it maps to identities (with mTLS)."""
JWKS_KEYS = ("url", "issuer", "audience")
JWKS_ENV_ALIASES: dict[str, tuple[str, ...]] = {
    key: (f"JWKS_{key.upper()}", f"AUTH_CALLOUT_JWKS_{key.upper()}") for key in JWKS_KEYS
}
"""Env vars the auth-callout reads each JWKS setting from, over config.yaml (INVENTORY §3: unprefixed first)."""
ENV_CONFIG_MAP = "nats-env-config"
CLUSTER_NAME_ENV = "NATS_CLUSTER_NAME"
JS_DOMAIN_ENV = "NATS_JS_DOMAIN"
MTLS_SERVER_NAME_ENV = "NATS_MTLS_SERVER_NAME"
MTLS_LEAF_ACCOUNT_ENV = "MTLS_LEAF_ACCOUNT"
ENV_CONFIG_MAP_KEYS = (CLUSTER_NAME_ENV, JS_DOMAIN_ENV, MTLS_SERVER_NAME_ENV, MTLS_LEAF_ACCOUNT_ENV)
"""The keys of the `nats-env-config` ConfigMap, each read into the env var of the same name."""
NATS_CONFIG_MAP = "nats-config"
"""The nats chart's ConfigMap (its `configMap.name` for release `nats`): nats.conf."""
PERMISSIONS_CONFIG_MAP = "auth-callout-permissions"
"""The auth-callout's permissions.json."""
ACCOUNTS_FILE = "accounts.conf"
"""The one key of each `nats-accounts-<n>` ConfigMap: a part of the CSC's accounts, included by its nats.conf."""


def accounts_config_map(index: int) -> str:
    """`nats-accounts-0`: the CSC's ConfigMap holding part `index` of its accounts that grow with its CPCs."""
    return f"nats-accounts-{index}"


def generated_env_names(
    cluster_type: str, mtls: bool, cpc_ids: tuple[str, ...], extra_accounts: tuple[str, ...]
) -> tuple[str, ...]:
    """The auth-callout env vars dsx-bus sets itself, in the order its Deployment lists them: its seeds, the public
    key of every generated nkey entry, the mTLS CA path. `authCallout.extraEnvs` must not reuse them."""
    users = generated_users(cluster_type, mtls, cpc_ids, extra_accounts)
    names = [key.env for key in (*CALLOUT_SEEDS, *(user.public_key for user in users)) if key.env]
    return (*names, *((MTLS_CA_PATH_ENV,) if mtls else ()))


@dataclass(frozen=True)
class EnvSource:
    """Where a pod's env var comes from: a key of an upstream Secret or of the `nats-env-config` ConfigMap."""

    kind: Literal["secret", "configMap"]
    name: str
    key: str


def env_sources(cluster_type: str, cpc_ids: tuple[str, ...], extra_accounts: tuple[str, ...]) -> dict[str, EnvSource]:
    """Every env var a rendered config or the auth-callout may refer to, and where it comes from."""
    sources = {
        key.env: EnvSource("secret", key.secret, key.key)
        for secret in key_secrets(cluster_type, True, cpc_ids, extra_accounts)
        for key in secret.keys
        if key.env is not None
    }
    return sources | {env: EnvSource("configMap", ENV_CONFIG_MAP, env) for env in ENV_CONFIG_MAP_KEYS}
