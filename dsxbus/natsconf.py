"""NATS server configuration: cluster models to a config tree, the tree to nats.conf text or chart values."""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Union

from dsxbus import domains, naming
from dsxbus.config import EventBus, LeafTls, Permissions, SubjectRule
from dsxbus.topology import Account, CalloutBlock, Cluster, Export, Import, Key, LeafRemote, User, Var

Value = Union[str, int, bool, Var, "Tree", list["Value"]]
Tree = dict[str, Value]

MAX_PAYLOAD = 4 * 1024 * 1024


def size_in_bytes(size: str | int) -> int:
    """`2Gi` -> 2147483648. Rendered as plain integers so no unit syntax can be misread."""
    return domains.size_in_bytes(size)


@dataclass(frozen=True)
class ServerSettings:
    """Where and how one server runs: Kubernetes pods (defaults) or a local process."""

    server_name: Key = Var("SERVER_NAME")
    host: str | None = None
    """None: every interface on the standard ports (pods). Locally: 127.0.0.1."""
    client_port: int = 4222
    http_port: int = 8222
    leaf_port: int = 7422
    mqtt_port: int = 1883
    cluster_name: Key | None = Var(naming.CLUSTER_NAME_ENV)
    cluster_port: int = 6222
    cluster_routes: tuple[str, ...] = ()
    store_dir: str | None = None
    max_memory_store: int = 2 * 2**30
    max_file_store: int = 0
    mqtt_stream_replicas: int = 3
    mqtt_consumer_memory_storage: bool = True
    """Upstream's choice: MQTT's consumers (QoS 1 subscriptions, sessions' delivery state) in memory. False with
    file storage, so a persistent session resumes where it was after a restart."""
    mqtt_no_auth_user: str | None = None
    """Locally: anonymous MQTT lands on this static user. Only MQTT: anonymous NATS clients and leafs are refused."""
    pid_file: str | None = "/var/run/nats/nats.pid"
    lame_duck: bool = True
    mtls_cert_dir: str = "/etc/nats-certs"


MQTT_MAX_ACK_PENDING = 1024
"""nats-server's own default (`mqttDefaultMaxAckPending`), written out: before 2.15.1 a reload with the option unset
gives every existing MQTT session a limit of 0 and silences its QoS 1 subscriptions
(versions.MQTT_RELOAD_KEEPS_MAX_ACK_PENDING); set, a reload re-applies this value."""


def with_store(settings: ServerSettings, bus: EventBus, store_dir: str) -> ServerSettings:
    """What mqttStreams.storage decides: `file` gives the server a file store (at `store_dir`, nats.maxFileStore)
    and MQTT's consumers on file; `memory` (upstream) neither: `max_file_store: 0`, consumers in memory."""
    if bus.mqtt_streams.storage != "file":
        return settings
    return replace(
        settings,
        store_dir=store_dir,
        max_file_store=size_in_bytes(bus.nats.max_file_store),
        mqtt_consumer_memory_storage=False,
    )


def kubernetes_routes(name: str, replicas: int) -> tuple[str, ...]:
    return tuple(f"nats://{name}-{i}.{name}-headless:6222" for i in range(replicas))


def _listen(settings: ServerSettings, port: int) -> tuple[str, Value]:
    if settings.host is None:
        return "port", port
    return "listen", f"{settings.host}:{port}"


def _common(settings: ServerSettings) -> Tree:
    tree: Tree = {"server_name": settings.server_name}
    key, value = _listen(settings, settings.client_port)
    tree[key] = value
    if settings.host is None:
        tree["http_port"] = settings.http_port
    else:
        tree["http"] = f"{settings.host}:{settings.http_port}"
    tree["max_payload"] = MAX_PAYLOAD
    tree["system_account"] = naming.SYS
    if settings.pid_file:
        tree["pid_file"] = settings.pid_file
    if settings.lame_duck:
        tree["lame_duck_duration"] = "30s"
        tree["lame_duck_grace_period"] = "10s"
    if settings.cluster_routes and settings.cluster_name is not None:
        tree["cluster"] = {
            "name": settings.cluster_name,
            "port": settings.cluster_port,
            "routes": list(settings.cluster_routes),
            "no_advertise": True,
        }
    return tree


def main_tree(cluster: Cluster, settings: ServerSettings) -> Tree:
    """The main `nats` servers of a cluster: JetStream, MQTT, leafnodes, accounts and auth."""
    tree = _common(settings)
    jetstream: Tree = {
        "domain": cluster.domain,
        "max_memory_store": settings.max_memory_store,
        "max_file_store": settings.max_file_store,
    }
    if settings.store_dir:
        jetstream["store_dir"] = settings.store_dir
    tree["jetstream"] = jetstream
    mqtt: Tree = {
        "consumer_memory_storage": settings.mqtt_consumer_memory_storage,
        "stream_replicas": settings.mqtt_stream_replicas,
        "max_ack_pending": MQTT_MAX_ACK_PENDING,
    }
    key, value = _listen(settings, settings.mqtt_port)
    mqtt[key] = value
    if settings.mqtt_no_auth_user:
        mqtt["no_auth_user"] = settings.mqtt_no_auth_user
    tree["mqtt"] = mqtt
    leafnodes: Tree = {"no_advertise": True}
    key, value = _listen(settings, settings.leaf_port)
    leafnodes[key] = value
    if cluster.leaf_server_tls is not None:
        leafnodes["tls"] = leaf_tls_tree(cluster.leaf_server_tls, server=True)
    if cluster.leaf_remotes:
        leafnodes["remotes"] = [remote_tree(r) for r in cluster.leaf_remotes]
    tree["leafnodes"] = leafnodes
    tree["accounts"] = accounts_tree(cluster.accounts)
    if cluster.auth is not None:
        tree["authorization"] = {"auth_callout": auth_callout_tree(cluster.auth)}
    return tree


def mtls_tree(
    domain_accounts: Sequence[Account],
    remotes: Sequence[LeafRemote],
    auth: CalloutBlock | None,
    settings: ServerSettings,
    *,
    mqtt_tls: Mapping[str, str] | None = None,
    client_tls: bool = False,
) -> Tree:
    """The `nats-mtls` server: MQTT over mutual TLS, joined to the main servers through three leafs.

    No JetStream of its own (the domain account's mappings reach main's). Upstream's client port is
    plain (its `nats-mtls.config.tls.*` values are inert); `client_tls` makes it mutual TLS too, for
    NATS clients that sign in with a certificate (the Sveltos agent).
    """
    tree = _common(settings)
    tree["accounts"] = accounts_tree(domain_accounts)
    if auth is not None:
        tree["authorization"] = {"auth_callout": auth_callout_tree(auth)}
    leafnodes: Tree = {"no_advertise": True}
    key, value = _listen(settings, settings.leaf_port)
    leafnodes[key] = value
    leafnodes["remotes"] = [remote_tree(r) for r in remotes]
    tree["leafnodes"] = leafnodes
    cert_dir = settings.mtls_cert_dir
    tls = (
        dict(mqtt_tls)
        if mqtt_tls is not None
        else {
            "ca_file": f"{cert_dir}/ca.crt",
            "cert_file": f"{cert_dir}/tls.crt",
            "key_file": f"{cert_dir}/tls.key",
        }
    )
    mqtt: Tree = {"max_ack_pending": MQTT_MAX_ACK_PENDING}
    key, value = _listen(settings, settings.mqtt_port)
    mqtt[key] = value
    mqtt["tls"] = {**tls, "verify": True}
    tree["mqtt"] = mqtt
    if client_tls:
        tree["tls"] = {**tls, "verify": True}
    return tree


def auth_callout_tree(auth: CalloutBlock) -> Tree:
    return {
        "account": naming.AUTH,
        "auth_users": list(auth.auth_users),
        "issuer": auth.issuer,
        "xkey": auth.xkey,
    }


def leaf_tls_tree(tls: LeafTls, *, server: bool) -> Tree:
    tree: Tree = {"ca_file": f"{tls.mount_path}/ca.crt"}
    if server or tls.client_certificate:
        tree["cert_file"] = f"{tls.mount_path}/tls.crt"
        tree["key_file"] = f"{tls.mount_path}/tls.key"
    if server:
        tree["verify"] = tls.verify
    return tree


def remote_tree(remote: LeafRemote) -> Tree:
    tree: Tree = {"urls": list(remote.urls), "account": remote.account, "nkey": remote.nkey}
    if remote.tls is not None:
        tree["tls"] = leaf_tls_tree(remote.tls, server=False)
    return tree


def accounts_tree(accounts: Sequence[Account]) -> Tree:
    return {account.name: account_tree(account) for account in accounts}


def account_tree(account: Account) -> Tree:
    tree: Tree = {}
    if account.jetstream is not None:
        tree["jetstream"] = account.jetstream
    if account.users:
        tree["users"] = [user_tree(u) for u in account.users]
    if account.exports:
        tree["exports"] = [export_tree(e) for e in account.exports]
    if account.imports:
        tree["imports"] = [import_tree(i) for i in account.imports]
    if account.mappings:
        tree["mappings"] = dict(account.mappings)
    return tree


def export_tree(export: Export) -> Tree:
    tree: Tree = {export.kind: export.subject}
    if export.response_type:
        tree["response_type"] = export.response_type
    if export.accounts:
        tree["accounts"] = list(export.accounts)
    return tree


def import_tree(item: Import) -> Tree:
    tree: Tree = {item.kind: {"account": item.account, "subject": item.subject}}
    if item.to is not None:
        tree["to"] = item.to
    return tree


def user_tree(user: User) -> Tree:
    tree: Tree = {}
    if user.nkey is not None:
        tree["nkey"] = user.nkey
    if user.user is not None:
        tree["user"] = user.user
        tree["password"] = user.password or ""
    if user.permissions is not None:
        tree["permissions"] = permissions_tree(user.permissions)
    return tree


def permissions_tree(permissions: Permissions) -> Tree:
    """Permissions in nats-server's config syntax (the auth-callout's JSON uses pub/sub instead)."""
    tree: Tree = {}
    for name, rule in (("publish", permissions.pub), ("subscribe", permissions.sub)):
        if rule is not None:
            tree[name] = _rule_tree(rule)
    if permissions.resp is not None:
        tree["allow_responses"] = {
            "max": permissions.resp.max,
            "expires": f"{permissions.resp.ttl // 10**6}ms",
        }
    return tree


def _rule_tree(rule: SubjectRule) -> Tree:
    tree: Tree = {}
    if rule.allow:
        tree["allow"] = list(rule.allow)
    if rule.deny:
        tree["deny"] = list(rule.deny)
    return tree


# ---- rendering ------------------------------------------------------------------------------------

_BARE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def render(tree: Tree, variables: Mapping[str, str] | None = None) -> str:
    """nats.conf text. With `variables`, env references are written inline (for `nats-server -t`
    on a file exactly as written); without, they stay `$NAME` for the server to expand."""
    return _render_value(tree, variables, 0) + "\n"


def _render_value(value: Value, variables: Mapping[str, str] | None, depth: int) -> str:
    pad = "  " * (depth + 1)
    if isinstance(value, Var):
        if variables is None:
            return f"${value.name}"
        if value.name not in variables:
            raise KeyError(f"no value for ${value.name}")
        return json.dumps(variables[value.name])
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        if not value:
            return "[]"
        items = "\n".join(pad + _render_value(v, variables, depth + 1) for v in value)
        return "[\n" + items + "\n" + "  " * depth + "]"
    if not value:
        return "{}"
    return "{\n" + "\n".join(_entries(value, variables, depth)) + "\n" + "  " * depth + "}"


def _entries(tree: Tree, variables: Mapping[str, str] | None, depth: int) -> list[str]:
    pad = "  " * (depth + 1)
    return [
        f"{pad}{key if _BARE_KEY.fullmatch(key) else json.dumps(key)}: {_render_value(item, variables, depth + 1)}"
        for key, item in tree.items()
    ]


def render_entries(tree: Tree) -> str:
    """The tree's entries in nats.conf syntax without the braces around them: the text of a file `include`d inside
    a block (an accounts shard). Env references stay `$NAME`, as `render` without variables writes them."""
    return "".join(line + "\n" for line in _entries(tree, None, -1))


def variables_in(tree: Value) -> set[str]:
    """Every env var a tree refers to: what the pod (or a test) must provide."""
    if isinstance(tree, Var):
        return {tree.name}
    if isinstance(tree, dict):
        return set().union(*(variables_in(v) for v in tree.values())) if tree else set()
    if isinstance(tree, list):
        return set().union(*(variables_in(v) for v in tree)) if tree else set()
    return set()


_CERTIFICATE_KEYS = frozenset({"cert_file", "key_file", "ca_file"})


def certificate_files(value: Value, *, in_lists_only: bool = False, in_list: bool = False) -> list[str]:
    """The certificate, key and CA files a config tree names (with `in_lists_only`, only those inside lists,
    such as leaf remotes' `tls` blocks)."""
    if isinstance(value, dict):
        found: list[str] = []
        for key, item in value.items():
            if key in _CERTIFICATE_KEYS and isinstance(item, str) and (in_list or not in_lists_only):
                found.append(item)
            else:
                found += certificate_files(item, in_lists_only=in_lists_only, in_list=in_list)
        return found
    if isinstance(value, list):
        return [f for item in value for f in certificate_files(item, in_lists_only=in_lists_only, in_list=True)]
    return []


CHART_CONFIG_DIR = "/etc/nats-config"
"""Where the nats chart mounts its nats.conf: an `include` path in it is relative to this directory."""
SHARD_BYTES = 900 * 1024
"""The most of the accounts one `nats-accounts-<n>` ConfigMap takes: room under Kubernetes' 1 MiB to spare."""
INCLUDE_SUFFIX = "$include"
"""A chart value key ending so becomes an `include <value>;` line (the nats chart's `nats.formatConfig`), and its
file is watched by the config reloader (`nats.reloaderConfig`, the path relative to CHART_CONFIG_DIR)."""


@dataclass(frozen=True)
class AccountShard:
    """One `nats-accounts-<n>` ConfigMap: whole account entries, in nats.conf syntax, as its one file holds them."""

    name: str
    """The ConfigMap (naming.accounts_config_map)."""
    text: str
    """Its file naming.ACCOUNTS_FILE."""

    @property
    def mount_path(self) -> str:
        """Where the nats container (and, as the chart copies mounts under /etc/, its reloader) mounts it."""
        return f"/etc/{self.name}"

    @property
    def include(self) -> str:
        """The file as nats.conf includes it: relative to CHART_CONFIG_DIR (`../nats-accounts-0/accounts.conf`)."""
        return posixpath.relpath(f"{self.mount_path}/{naming.ACCOUNTS_FILE}", CHART_CONFIG_DIR)


@dataclass(frozen=True)
class ShardedConf:
    """A tree for the nats chart with some accounts moved out of its ConfigMap into `shards`."""

    tree: Tree
    """The tree without the moved accounts, and in `accounts` one `<shard>$include` key per shard (INCLUDE_SUFFIX):
    for `chart_merge` only, `render` has no include syntax."""
    shards: tuple[AccountShard, ...]


def shard_accounts(tree: Tree, names: Sequence[str], limit: int = SHARD_BYTES) -> ShardedConf:
    """`names`' accounts moved into shards of at most `limit` bytes each, filled in the order of `names` (an account
    larger than `limit` alone in its own). The rest of the tree stays as it is."""
    accounts = tree.get("accounts")
    if not isinstance(accounts, dict):
        return ShardedConf(tree, ())
    moved = [name for name in names if name in accounts]
    parts: list[list[str]] = []
    size = 0
    for name in moved:
        entry = render_entries({name: accounts[name]})
        grown = size + len(entry.encode())
        if parts and grown <= limit:
            parts[-1].append(entry)
            size = grown
        else:
            parts.append([entry])
            size = len(entry.encode())
    shards = tuple(AccountShard(naming.accounts_config_map(i), "".join(part)) for i, part in enumerate(parts))
    gone = frozenset(moved)
    kept: Tree = {name: account for name, account in accounts.items() if name not in gone}
    kept |= {shard.name + INCLUDE_SUFFIX: shard.include for shard in shards}
    return ShardedConf({**tree, "accounts": kept}, shards)


def chart_merge(tree: Tree) -> dict[str, object]:
    """The same tree as the upstream nats chart's `config.merge` values (`<< $VAR >>` = unquoted reference)."""
    return _to_chart(tree)  # type: ignore[return-value]


def _to_chart(value: Value) -> object:
    if isinstance(value, Var):
        return f"<< ${value.name} >>"
    if isinstance(value, dict):
        return {k: _to_chart(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_chart(v) for v in value]
    return value
