"""The upstream naming contract: which Secrets hold which keys, which env vars they feed, which names are reserved.

The expectations are written out literally: they are what the stock auth-callout image, NACK, Surveyor and the
upstream chart look for (INVENTORY §2-§3), so a change here is a change of contract, not a refactoring.
"""

from __future__ import annotations

import itertools

import pytest

from dsxbus import naming, permissions
from dsxbus.config import EventBus

CALLOUT: dict[str, dict[str, str | None]] = {
    "auth-callout-keys": {
        "nkey-seed": "AUTH_CALLOUT_NATS_NKEY_SEED",
        "issuer-seed": "AUTH_CALLOUT_NATS_ISSUER_SEED",
        "xkey-seed": "AUTH_CALLOUT_NATS_XKEY_SEED",
    }
}
SERVICES: dict[str, dict[str, str | None]] = {
    "nats-auth-signing": {"pubkey": "AUTH_SIGNING_KEY"},
    "nats-xkey": {"pubkey": "XKEY_PUBKEY"},
    "nats-authx-user": {"pubkey": "AUTHX_USER_NKEY"},
    "nats-nack-user": {"nack-user.nk": None, "pubkey": "NKEY_NACK_USER_PUBKEY"},
    "nats-surveyor": {"seed": None, "pubkey": "NKEY_SURVEYOR_PUBKEY"},
}
MTLS: dict[str, dict[str, str | None]] = {
    "nats-mtls-leaf": {"seed": "MTLS_LEAF_USER_SEED", "pubkey": "NKEY_MTLS_LEAF_PUBKEY"},
    "nats-mtls-authx-leaf": {"seed": "AUTHX_LEAF_USER_SEED", "pubkey": "NKEY_MTLS_AUTHX_LEAF_PUBKEY"},
    "nats-mtls-sys-leaf": {"seed": "MTLS_SYS_LEAF_USER_SEED", "pubkey": "NKEY_MTLS_SYS_LEAF_PUBKEY"},
}


def _secrets(
    cluster_type: str, mtls: bool, cpc_ids: tuple[str, ...] = (), extra: tuple[str, ...] = ()
) -> dict[str, dict[str, str | None]]:
    """Secret -> {key: the env var it feeds}, as the table gives them."""
    return {
        secret.name: {key.key: key.env for key in secret.keys}
        for secret in naming.key_secrets(cluster_type, mtls, cpc_ids, extra)
    }


def test_a_cpc_gets_the_upstream_secrets_and_its_leaf_seeds() -> None:
    assert _secrets("cpc", False, extra=("LaunchLayer",)) == {
        **CALLOUT,
        **SERVICES,
        "nats-leaf-csc": {"seed": "LEAF_USER_SEED"},
        "nats-leaf-launchlayer-csc": {"seed": "LEAF_LAUNCHLAYER_USER_SEED"},
    }


def test_the_csc_keeps_nacks_sources_key_beside_its_own_and_one_pubkey_secret_per_cpc_and_account() -> None:
    nack = {"nack-sources.nk": None, "sources-pubkey": "NKEY_NACK_SOURCES_PUBKEY"}
    assert _secrets("csc", True, ("a",), ("LaunchLayer",)) == {
        **CALLOUT,
        **SERVICES,
        "nats-nack-user": {**SERVICES["nats-nack-user"], **nack},
        **MTLS,
        "nats-leaf-cpc-a": {"pubkey": "NKEY_LEAF_CPC_a_PUBKEY"},
        "nats-leaf-launchlayer-cpc-a": {"pubkey": "NKEY_LEAF_LAUNCHLAYER_CPC_a_PUBKEY"},
    }


def test_every_env_var_comes_from_the_secret_key_that_feeds_it_or_the_env_configmap() -> None:
    sources = naming.env_sources("csc", ("a",), ())
    assert sources["AUTH_CALLOUT_NATS_ISSUER_SEED"] == naming.EnvSource("secret", "auth-callout-keys", "issuer-seed")
    assert sources["NKEY_NACK_SOURCES_PUBKEY"] == naming.EnvSource("secret", "nats-nack-user", "sources-pubkey")
    assert sources["NKEY_LEAF_CPC_a_PUBKEY"] == naming.EnvSource("secret", "nats-leaf-cpc-a", "pubkey")
    assert sources["NATS_JS_DOMAIN"] == naming.EnvSource("configMap", "nats-env-config", "NATS_JS_DOMAIN")
    assert naming.env_sources("cpc", (), ())["LEAF_USER_SEED"] == naming.EnvSource("secret", "nats-leaf-csc", "seed")


def test_the_auth_callout_env_names_dsx_bus_sets_are_its_seeds_and_each_generated_entrys_public_key() -> None:
    assert naming.generated_env_names("csc", True, ("a",), ("LaunchLayer",)) == (
        "AUTH_CALLOUT_NATS_NKEY_SEED",
        "AUTH_CALLOUT_NATS_ISSUER_SEED",
        "AUTH_CALLOUT_NATS_XKEY_SEED",
        "NKEY_NACK_USER_PUBKEY",
        "NKEY_SURVEYOR_PUBKEY",
        "NKEY_MTLS_LEAF_PUBKEY",
        "NKEY_MTLS_AUTHX_LEAF_PUBKEY",
        "NKEY_MTLS_SYS_LEAF_PUBKEY",
        "NKEY_NACK_SOURCES_PUBKEY",
        "NKEY_LEAF_CPC_a_PUBKEY",
        "NKEY_LEAF_LAUNCHLAYER_CPC_a_PUBKEY",
        "AUTH_CALLOUT_MTLS_CA_PATH",
    )


def test_the_reserved_permission_names_are_the_upstream_ones() -> None:
    assert naming.generated_permission_names("csc", True, ("a",), ("LaunchLayer",)) == (
        "nack-controller",
        "surveyor",
        "mtls-leaf",
        "mtls-authx-leaf",
        "mtls-sys-leaf",
        "nack-sources",
        "leaf-cpc-a",
        "leaf-launchlayer-cpc-a",
    )
    assert naming.generated_permission_names("cpc", False, (), ("LaunchLayer",)) == ("nack-controller", "surveyor")


def _bus(cluster_type: str, mtls: bool, extra: bool) -> EventBus:
    raw: dict[str, object] = {"clusterType": cluster_type, "authCallout": {"image": "x:1"}, "mtls": {"enabled": mtls}}
    if cluster_type == "csc":
        raw["cpcs"] = {"a": "org/dsx-bus/cpc-a", "b": "org/dsx-bus/cpc-b"}
    else:
        raw |= {"clusterId": "a", "cscEndpoint": "nats://csc:7422"}
    if extra:
        raw["extraAccounts"] = {"LaunchLayer": {"jetstream": True}, "Off": {"enabled": False}}
    return EventBus.model_validate(raw)


LAYOUTS = list(itertools.product(("csc", "cpc"), (False, True), (False, True)))


@pytest.mark.parametrize(("cluster_type", "mtls", "extra"), LAYOUTS)
def test_the_reserved_names_are_exactly_the_entries_and_env_vars_dsx_bus_generates(
    cluster_type: str, mtls: bool, extra: bool
) -> None:
    bus = _bus(cluster_type, mtls, extra)
    args = (bus.cluster_type, bus.mtls.enabled, bus.cpc_ids, bus.enabled_extra_accounts)
    entries = permissions.generated_nkey_entries(bus)
    assert tuple(entries) == naming.generated_permission_names(*args)
    referenced = {str(entry["public_key"]).removeprefix("${").removesuffix("}") for entry in entries.values()}
    assert referenced <= set(naming.generated_env_names(*args))


def test_every_public_key_a_generated_entry_names_comes_from_a_secret_dsx_bus_writes() -> None:
    bus = _bus("csc", True, True)
    sources = naming.env_sources(bus.cluster_type, bus.cpc_ids, bus.enabled_extra_accounts)
    written = {
        (secret.name, key.key)
        for secret in naming.key_secrets(bus.cluster_type, True, bus.cpc_ids, bus.enabled_extra_accounts)
        for key in secret.keys
    }
    for name in naming.generated_env_names(bus.cluster_type, True, bus.cpc_ids, bus.enabled_extra_accounts):
        if name != naming.MTLS_CA_PATH_ENV:
            assert (sources[name].name, sources[name].key) in written, name


@pytest.mark.parametrize(("cluster_id", "account"), [("a", None), ("10", None), ("a", "LaunchLayer"), ("b", "X1")])
def test_leaf_entry_and_secret_names_read_back_what_naming_writes(cluster_id: str, account: str | None) -> None:
    token = naming.account_secret_token(account) if account else None
    expected = naming.LeafEntryName(cluster_id, token)
    assert naming.leaf_entry_name(naming.leaf_permission(cluster_id, account)) == expected
    assert naming.leaf_secret_name(naming.leaf_pubkey_secret(cluster_id, account)) == expected


@pytest.mark.parametrize(
    "name", ["nack-controller", "mtls-leaf", "leaf-cpc-", "nats-leaf-csc", "leaf-cpc-a\n", "nats-leaf-cpc-a\n"]
)
def test_other_names_are_not_leaf_entries(name: str) -> None:
    assert naming.leaf_entry_name(name) is None
    assert naming.leaf_secret_name(name) is None
