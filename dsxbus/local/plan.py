"""What each local cluster runs: keys, static users in place of the auth-callout, and its nats.conf trees."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from dsxbus import naming, natsconf, nkeys, permissions, topology
from dsxbus.config import EventBus, Permissions, SubjectRule
from dsxbus.fleet import Resolved
from dsxbus.nkeys import KeyKind, KeyPair
from dsxbus.topology import User

ANY = -1
"""nats-server's "pick a free port": the real one is read from its log."""
NOAUTH_USER = "noauth"
MQTT_ADMIN_USER = "local-mqtt"
FULL_ACCESS = Permissions(pub=SubjectRule(allow=(">",)), sub=SubjectRule(allow=(">",)))


@dataclass(frozen=True)
class ClusterKeys:
    """Everything secret one local cluster needs; written to the private run dir only."""

    leaf: dict[str, KeyPair] = field(default_factory=dict)
    """CPC: account (CSC or an extra account) -> the key its leaf presents to the CSC."""
    admin: dict[str, KeyPair] = field(default_factory=dict)
    """Account -> a full-access NATS user: the local stand-in for the operator's own OAuth2 clients."""
    mtls_leaf: KeyPair = field(default_factory=lambda: nkeys.generate(KeyKind.USER))
    mtls_sys_leaf: KeyPair = field(default_factory=lambda: nkeys.generate(KeyKind.USER))
    mqtt_password: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    noauth_password: str = field(default_factory=lambda: secrets.token_urlsafe(16))


def local_bus(bus: EventBus) -> EventBus:
    """The cluster as it runs locally: no leaf TLS, and the CPC dials the local CSC, not a configured URL."""
    return bus.model_copy(update={"csc_leaf_server_tls": None, "cpc_leaf_client_tls": None, "csc_endpoint": None})


def user_accounts(bus: EventBus) -> tuple[str, ...]:
    """Accounts local clients can be in: the domain account (and a CPC's local CSC window, or the CSC's SOURCES and
    each CPC's account there), extra accounts, and SYS (where the operator's monitoring, Surveyor, asks every
    server)."""
    if bus.cluster_type == "csc":
        own: tuple[str, ...] = (naming.CSC, naming.SOURCES, *(naming.cpc_account(c) for c in bus.cpc_ids))
    else:
        own = (naming.CPC, naming.CSC)
    return (*own, *bus.enabled_extra_accounts, naming.SYS)


def generate_keys(bus: EventBus) -> ClusterKeys:
    leaf: dict[str, KeyPair] = {}
    if bus.cluster_type == "cpc":
        leaf = {a: nkeys.generate(KeyKind.USER) for a in (naming.CSC, *bus.enabled_extra_accounts)}
    return ClusterKeys(leaf=leaf, admin={a: nkeys.generate(KeyKind.USER) for a in user_accounts(bus)})


def _add(users: dict[str, tuple[User, ...]], account: str, *more: User) -> None:
    users[account] = users.get(account, ()) + more


def static_users(
    resolved: Resolved,
    keys: ClusterKeys,
    cpc_keys: Mapping[str, ClusterKeys],
    next_leaf: Mapping[str, Mapping[str, KeyPair]] | None = None,
) -> dict[str, tuple[User, ...]]:
    """The auth-callout's permissions.json, as static users of the main server.

    `cpc_keys` (CSC only): CPC id -> that CPC's keys, for its leaf users. `next_leaf` (CSC only, during
    `local rotate`): CPC id -> account -> the key that CPC switches to next, admitted with the grant of the key it
    replaces (the local `leaf-cpc-<id>-next` entry, dsxbus.rotation.with_next_leaf_keys). OAuth2 clients have no
    local stand-in (no identity provider); mTLS identities live on the nats-mtls server (`mtls_users`).
    """
    bus = resolved.bus
    users: dict[str, tuple[User, ...]] = {}
    for account, key in keys.admin.items():
        _add(users, account, User(nkey=key.public_key))
    _add(users, bus.domain_account, User(user=MQTT_ADMIN_USER, password=keys.mqtt_password, permissions=FULL_ACCESS))
    perms = bus.auth.permissions
    for entry in perms.nkey.values():
        _add(users, entry.account, User(nkey=entry.public_key, permissions=entry.permissions))
    if perms.noauth is not None:
        _add(
            users,
            perms.noauth.account,
            User(user=NOAUTH_USER, password=keys.noauth_password, permissions=perms.noauth.permissions),
        )
    if bus.mtls.enabled:
        _add(
            users,
            bus.domain_account,
            User(nkey=keys.mtls_leaf.public_key, permissions=permissions.mtls_relay_grant(bus)),
        )
        _add(users, naming.SYS, User(nkey=keys.mtls_sys_leaf.public_key, permissions=permissions.MTLS_SYS_LEAF_GRANT))
    if bus.cluster_type == "csc":
        for cluster_id, lists in resolved.cpc_lists.items():
            cpc = cpc_keys.get(cluster_id)
            if cpc is None:
                continue
            version = resolved.cpc_versions.get(cluster_id)
            # By the account the CPC's leaf binds to on its side (its CSC window, an extra account): where it lands
            # on the CSC, with what grant.
            grants = {
                naming.CSC: (
                    naming.cpc_account(cluster_id),
                    topology.leaf_permissions(cluster_id, lists, version, uplinks=bus.mqtt_streams.uplinks_enabled),
                )
            }
            for account in bus.enabled_extra_accounts:
                if account in cpc.leaf:
                    grants[account] = (account, topology.extra_leaf_permissions(bus.extra_accounts[account].jetstream))
            upcoming = (next_leaf or {}).get(cluster_id, {})
            for account, (lands_in, grant) in grants.items():
                for key in (cpc.leaf[account], *([upcoming[account]] if account in upcoming else [])):
                    _add(users, lands_in, User(nkey=key.public_key, permissions=grant))
    return users


def settings(
    name: str, store_dir: str | None, ports: Mapping[str, int] | None = None, mqtt_no_auth_user: str | None = None
) -> natsconf.ServerSettings:
    """Loopback ServerSettings; `ports` None means "any free port" (the first start)."""
    chosen = dict(ports or {})
    return natsconf.ServerSettings(
        server_name=name,
        host="127.0.0.1",
        client_port=chosen.get("client", ANY),
        http_port=chosen.get("http", ANY),
        leaf_port=chosen.get("leaf", ANY),
        mqtt_port=chosen.get("mqtt", ANY),
        cluster_name=None,
        store_dir=store_dir,
        mqtt_stream_replicas=1,
        pid_file=None,
        lame_duck=False,
        mqtt_no_auth_user=mqtt_no_auth_user,
    )


def main_conf(
    resolved: Resolved,
    keys: ClusterKeys,
    cpc_keys: Mapping[str, ClusterKeys],
    *,
    csc_leaf_url: str | None,
    store_dir: str,
    ports: Mapping[str, int] | None = None,
    next_leaf: Mapping[str, Mapping[str, KeyPair]] | None = None,
) -> str:
    """The main server's nats.conf, seeds inline (the run dir is private); `next_leaf` as in `static_users`."""
    bus = local_bus(resolved.bus)
    users = static_users(replace(resolved, bus=bus, csc_endpoint=None), keys, cpc_keys, next_leaf)
    cluster = topology.cluster(bus, csc_endpoint=csc_leaf_url, auth=None, users=users, cpc_lists=resolved.cpc_lists)
    noauth = NOAUTH_USER if bus.auth.permissions.noauth is not None else None
    local = natsconf.with_store(settings(bus.cluster_name, store_dir, ports, noauth), bus, store_dir)
    tree = natsconf.main_tree(cluster, local)
    variables = {naming.leaf_seed_env(None if a == naming.CSC else a): k.seed for a, k in keys.leaf.items()}
    return natsconf.render(tree, variables)


def mtls_conf(
    bus: EventBus,
    keys: ClusterKeys,
    *,
    main_leaf_url: str,
    cert_dir: str,
    ports: Mapping[str, int] | None = None,
) -> str:
    """The nats-mtls server: MQTT over mutual TLS, certificate identities mapped to users (`verify_and_map`).

    Locally there is no auth-callout, so the AUTHX leaf is left out and the certificate's DN
    (`CN=...`) names a static user, which is what the auth-callout's mtls entries match on.
    """
    domain = bus.domain_account
    accounts = tuple(a for a in topology.mtls_accounts(bus) if a.name in (domain, naming.SYS))
    identities = tuple(
        User(user=entry.identity, permissions=entry.permissions)
        for entry in permissions.mtls_entries(bus).values()
        if entry.account == domain
    )
    accounts = tuple(
        topology.Account(a.name, a.jetstream, a.exports, a.imports, a.mappings, a.users + identities)
        if a.name == domain
        else a
        for a in accounts
    )
    remotes = tuple(r for r in topology.mtls_leaf_remotes(bus, main_leaf_url) if r.account != naming.AUTHX)
    tree = natsconf.mtls_tree(
        accounts,
        remotes,
        None,
        settings(f"{bus.cluster_name}-mtls", None, ports),
        mqtt_tls={
            "ca_file": f"{cert_dir}/ca.crt",
            "cert_file": f"{cert_dir}/tls.crt",
            "key_file": f"{cert_dir}/tls.key",
        },
        client_tls=bus.sveltos.enabled,
    )
    for listener in (tree["mqtt"], tree):
        tls = listener.get("tls") if isinstance(listener, dict) else None
        if isinstance(tls, dict):
            tls["verify_and_map"] = True  # the client certificate's subject DN picks the user
    variables = {
        naming.MTLS_LEAF.seed_env or "": keys.mtls_leaf.seed,
        naming.MTLS_SYS_LEAF.seed_env or "": keys.mtls_sys_leaf.seed,
    }
    return natsconf.render(tree, variables)


def unsupported_locally(bus: EventBus) -> list[str]:
    """What a stack configures that the local federation cannot reproduce: said once at `local up`."""
    notes = []
    perms = bus.auth.permissions
    if perms.oauth2:
        notes.append(f"{len(perms.oauth2)} OAuth2 client(s) cannot sign in locally (no identity provider)")
    if bus.csc_leaf_server_tls or bus.cpc_leaf_client_tls:
        notes.append("leaf TLS is not used locally (plain loopback leaf connections)")
    skipped = [n for n, e in perms.mtls.items() if e.account != bus.domain_account]
    if skipped:
        notes.append(f"mTLS identities in other accounts have no local user: {', '.join(skipped)}")
    return notes
