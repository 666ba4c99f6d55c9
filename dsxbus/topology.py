"""The routing model of one cluster: accounts, imports/exports, mappings and leaf remotes (INVENTORY §4)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from dsxbus import naming, subjects, versions
from dsxbus.config import EventBus, LeafTls, Permissions, SubjectRule
from dsxbus.crosslayer import CrossLayer


@dataclass(frozen=True)
class Var:
    """A reference to an env var the server expands at load (`$LEAF_USER_SEED`): seeds never appear inline."""

    name: str


Key = str | Var


@dataclass(frozen=True)
class Export:
    kind: Literal["stream", "service"]
    subject: str
    response_type: str | None = None
    accounts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Import:
    kind: Literal["stream", "service"]
    account: str
    subject: str
    to: str | None = None


@dataclass(frozen=True)
class User:
    """A static user: an nkey (generated internal users; the local stand-in for auth-callout) or user/password."""

    nkey: Key | None = None
    user: str | None = None
    password: str | None = None
    permissions: Permissions | None = None


@dataclass(frozen=True)
class Account:
    name: str
    jetstream: bool | None = None
    """None: leave it out (the server default, off), as upstream does for AUTH/AUTHX/SYS."""
    exports: tuple[Export, ...] = ()
    imports: tuple[Import, ...] = ()
    mappings: tuple[tuple[str, str], ...] = ()
    users: tuple[User, ...] = ()


@dataclass(frozen=True)
class LeafRemote:
    urls: tuple[str, ...]
    account: str
    nkey: Key
    tls: LeafTls | None = None


@dataclass(frozen=True)
class CalloutBlock:
    """A server's `authorization.auth_callout` block: which keys sign and encrypt the auth-callout's answers.

    Not the operator's `authCallout` settings (config.AuthCallout: image, replicas, env) nor the service itself
    (components.auth_callout).
    """

    issuer: Key = Var(naming.AUTH_SIGNING.pubkey_env or "")
    auth_users: tuple[Key, ...] = (Var(naming.AUTHX_USER.pubkey_env or ""),)
    xkey: Key = Var(naming.XKEY.pubkey_env or "")


@dataclass(frozen=True)
class Cluster:
    """The accounts and leaf connections one cluster's main `nats` servers run with."""

    name: str
    """`csc` or `cpc-<id>`."""
    domain: str
    """The JetStream domain: CSC on the CSC, CPC on every CPC (upstream: upper(clusterType))."""
    accounts: tuple[Account, ...]
    leaf_remotes: tuple[LeafRemote, ...] = ()
    leaf_server_tls: LeafTls | None = None
    auth: CalloutBlock | None = field(default_factory=CalloutBlock)
    """None: no auth-callout, static users only (the local federation)."""


def js_api_mappings(domain: str) -> tuple[tuple[str, str], ...]:
    """How a JetStream-less account's clients reach domain `domain`'s JetStream: its API, key-value, object stores."""
    api = subjects.jetstream_api(domain)
    return (("$JS.API.>", f"{api}.>"), ("$KV.>", f"{api}.$KV.>"), ("$OBJ.>", f"{api}.$OBJ.>"))


def _js_mappings(domain: str, *, mqtt_sessions: bool = False) -> tuple[tuple[str, str], ...]:
    # MQTT sessions must land in the domain's $MQTT_sess stream too.
    mappings = js_api_mappings(domain)
    if mqtt_sessions:
        mappings += (("$MQTT.sess.*.>", f"$MQTT.sess.{domain}.>"),)
    return mappings


SOURCED_KINDS = ("msgs", "rmsgs")
"""The MQTT streams a CPC sources from the CSC: QoS 1 messages and retained messages."""

SOURCES_API = subjects.jetstream_api(f"{naming.CSC}-{naming.SOURCES}")
"""Where each CPC's account on the CSC (and through it that CPC's leaf) reaches consumer creation in SOURCES."""
MQTT_API = subjects.jetstream_api(f"{naming.CSC}-MQTT")
"""Where the SOURCES account reaches consumer creation on the CSC account's MQTT streams."""
SOURCES_DELIVER_PREFIX = "csc2sources"
"""The deliver prefix of the per-CPC source streams' own sources: the CSC account's `$MQTT_msgs` and `$MQTT_rmsgs`."""


def mqtt_stream(kind: str) -> str:
    """`$MQTT_<kind>`: the JetStream stream nats-server keeps MQTT's `kind` in (`msgs`, `rmsgs`, `sess`...)."""
    return f"$MQTT_{kind}"


def cpc_source_stream(kind: str, cluster_id: str) -> str:
    """The stream (SOURCES account, on the CSC) holding exactly what CPC `cluster_id` sources of `$MQTT_<kind>`.

    One per CPC, so that the JetStream API a CPC's leaf identity needs (a consumer on it) reaches no
    other CPC's messages, whatever filter the consumer asks for.
    """
    return f"MQTT_{kind}_cpc_{cluster_id}"


def cpc_uplink_stream(kind: str, cluster_id: str) -> str:
    """The stream (CPC `cluster_id`'s account on the CSC) sourcing its `$MQTT_<kind>` into `cpc.<id>.` subjects.

    The CSC's own `$MQTT_<kind>` sources it in turn, filtered to `$MQTT.<kind>.cpc.<id>.>`: a stream source stores
    a delivery whose subject no transform matches as it came, so whoever holds the CPC's leaf key could put any
    subject here (`$MQTT.msgs.cpc.<other>.command.x`). The CSC's filter, applied inside the CSC, keeps it to the
    CPC's own namespace.
    """
    return f"MQTT_{kind}_from_cpc_{cluster_id}"


def flow_control(stream: str) -> str:
    """`$JS.FC.<stream>.>`: where the consumers a stream's sources create ask that stream for flow control."""
    return f"$JS.FC.{stream}.>"


def sourcing_api(cluster_id: str) -> tuple[str, ...]:
    """Every JetStream API subject a CPC's stream sources call, as its account on the CSC names them, measured on
    each supported version: consumer create on its own source streams, in the plain and the extended (consumer
    name, filter) form."""
    own = tuple(cpc_source_stream(kind, cluster_id) for kind in SOURCED_KINDS)
    return tuple(local for _, local in _consumer_create(own, SOURCES_API))


def sourcing_flow_control(cluster_id: str) -> tuple[str, ...]:
    """Where a CPC's stream sources answer the CSC consumers' flow control (`$JS.FC.<stream>.<consumer>.*`)."""
    return tuple(flow_control(cpc_source_stream(kind, cluster_id)) for kind in SOURCED_KINDS)


UPSOURCING_FLOW_CONTROL = tuple(flow_control(mqtt_stream(kind)) for kind in SOURCED_KINDS)
"""Where the CSC's uplink streams answer the flow control of their consumers on a CPC's `$MQTT_msgs`/`$MQTT_rmsgs`."""
UPSOURCING_REPLIES = "$JSC.R.>"
"""Where nats-server waits for a CPC's answer to an uplink stream's consumer creation (`$JSC.R.<random>`, in the CSC
account). Measured: without it in a CPC leaf's pub grant the uplinks never become active."""


def cpc_account_api(cluster_id: str) -> str:
    """`$JS.CSC-CPC-<id>.API`: where the CSC account (its MQTT streams' sources) and SOURCES (NACK, as
    `nack-sources`) reach the JetStream of CPC `cluster_id`'s account on the CSC, which holds its uplink streams."""
    return subjects.jetstream_api(f"{naming.CSC}-{naming.cpc_account(cluster_id)}")


def _consumer_create(streams: tuple[str, ...], api: str) -> tuple[tuple[str, str], ...]:
    """(as the exporter names it, as the importer names it) for consumer creation on `streams`, in the plain and the
    extended (consumer name, filter) form."""
    pairs: tuple[tuple[str, str], ...] = ()
    for stream in streams:
        create = f"CONSUMER.CREATE.{stream}"
        pairs += ((f"$JS.API.{create}", f"{api}.{create}"), (f"$JS.API.{create}.>", f"{api}.{create}.>"))
    return pairs


def _grouped(exports: list[tuple[str, str]]) -> tuple[Export, ...]:
    """Stream exports (subject, to account) as one export per subject, naming every account it goes to."""
    accounts: dict[str, list[str]] = {}
    for subject, account in exports:
        if account not in accounts.setdefault(subject, []):
            accounts[subject].append(account)
    return tuple(Export("stream", subject, accounts=tuple(to)) for subject, to in accounts.items())


def csc_accounts(bus: EventBus, cpc_lists: Mapping[str, CrossLayer] | None = None) -> tuple[Account, ...]:
    """The CSC's own accounts: `CSC` (its topic space), `SOURCES` and one account per CPC, `CPC-<id>`.

    A CPC's leaf lands in `CPC-<id>` (naming.cpc_account), never in the CSC account: whatever that leaf sends is
    in its CPC's account, and reaches the CSC account only as far as that CPC's cpcExports (`cpc.<id>.X`) go; it
    hears only the CSC's cscExports and that CPC's cscPrefixedExports. Its stream sources' JetStream API, flow
    control and deliveries (SOURCES) are imported into it one CPC at a time, and the CSC's uplink streams for
    that CPC (mqttStreams.uplinks) live in it: nats-server answers a forged flow control request or consumer
    answer in the account it arrives in, so with every CPC in its own account, whoever holds CPC a's leaf key
    reaches only CPC a's own streams (docs/threat-model.md, holes A and B).

    `cpc_lists`: each CPC's own lists, as its stack exports them; the fleet defaults for a CPC not given.
    """
    lists_of = {cid: (cpc_lists or {}).get(cid, bus.effective_cross_layer) for cid in bus.cpc_ids}
    uplinks = bus.mqtt_streams.uplinks_enabled
    to_sources, to_csc = (naming.SOURCES,), (naming.CSC,)
    mqtt_api = _consumer_create(tuple(mqtt_stream(kind) for kind in SOURCED_KINDS), MQTT_API)
    fc = tuple(flow_control(mqtt_stream(kind)) for kind in SOURCED_KINDS)
    down: list[tuple[str, str]] = []
    csc_imports: list[Import] = []
    sources_exports: list[Export] = []
    sources_imports: list[Import] = []
    cpcs: list[Account] = []
    cpc_names = tuple(naming.cpc_account(cid) for cid in bus.cpc_ids)
    if cpc_names:
        sources_exports.append(Export("service", "$JS.API.CONSUMER.CREATE.>", accounts=cpc_names))
    for cid, lists in lists_of.items():
        account = naming.cpc_account(cid)
        prefix = subjects.cpc_prefix(cid)
        down += [(s, account) for s in lists.csc_exports]
        down += [(prefix + s, account) for s in lists.csc_prefixed_exports]
        up = tuple(prefix + s for s in lists.cpc_exports)
        csc_imports += [Import("stream", account, s) for s in up]
        own_sources = tuple(cpc_source_stream(kind, cid) for kind in SOURCED_KINDS)
        own_fc = sourcing_flow_control(cid)
        sources_exports += [Export("service", s, accounts=(account,)) for s in own_fc]
        sources_exports.append(Export("stream", subjects.sourcing_deliveries(cid), accounts=(account,)))
        exports = [Export("stream", s, accounts=to_csc) for s in up]
        imports = [
            *(Import("stream", naming.CSC, s) for s in lists.csc_exports),
            *(Import("stream", naming.CSC, prefix + s) for s in lists.csc_prefixed_exports),
            *(
                Import("service", naming.SOURCES, s, to=local)
                for s, local in _consumer_create(own_sources, SOURCES_API)  # as sourcing_api names them
            ),
            *(Import("service", naming.SOURCES, s) for s in own_fc),
            Import("stream", naming.SOURCES, subjects.sourcing_deliveries(cid)),
        ]
        if uplinks:
            api = cpc_account_api(cid)
            own_uplinks = tuple(cpc_uplink_stream(kind, cid) for kind in SOURCED_KINDS)
            uplink_fc = tuple(flow_control(stream) for stream in own_uplinks)
            deliveries = subjects.uplink_deliveries(cid)
            exports += [
                Export("service", "$JS.API.>", response_type="stream", accounts=(naming.CSC, naming.SOURCES)),
                *(Export("service", s, accounts=to_csc) for s in uplink_fc),
                Export("stream", deliveries, accounts=to_csc),
            ]
            csc_imports += [
                *(Import("service", account, s, to=local) for s, local in _consumer_create(own_uplinks, api)),
                *(Import("service", account, s) for s in uplink_fc),
                Import("stream", account, deliveries),
            ]
            sources_imports.append(Import("service", account, "$JS.API.>", to=f"{api}.>"))
        cpcs.append(Account(account, jetstream=uplinks, exports=tuple(exports), imports=tuple(imports)))
    csc = Account(
        naming.CSC,
        jetstream=True,
        exports=(
            *(Export("service", subject, accounts=to_sources) for subject, _ in mqtt_api),
            *(Export("service", subject, accounts=to_sources) for subject in fc),
            Export("stream", f"{SOURCES_DELIVER_PREFIX}.>", accounts=to_sources),
            *_grouped(down),
        ),
        imports=tuple(csc_imports),
    )
    sources = Account(
        naming.SOURCES,
        jetstream=True,
        exports=tuple(sources_exports),
        imports=(
            *(Import("service", naming.CSC, subject, to=local) for subject, local in mqtt_api),
            *(Import("service", naming.CSC, subject) for subject in fc),
            Import("stream", naming.CSC, f"{SOURCES_DELIVER_PREFIX}.>"),
            *sources_imports,
        ),
    )
    return (csc, sources, *cpcs)


def csc_fleet_account_names(bus: EventBus) -> tuple[str, ...]:
    """The names of `csc_accounts`, in its order: the CSC's accounts that grow with its CPCs."""
    return (naming.CSC, naming.SOURCES, *(naming.cpc_account(cid) for cid in bus.cpc_ids))


def auth_accounts(*, authx_users: tuple[User, ...]) -> tuple[Account, ...]:
    """AUTH, AUTHX and SYS: where the auth-callout service lives and how its requests reach it."""
    callout_subjects = ("$SYS.REQ.USER.AUTH", "$SRV.>")
    return (
        Account(naming.AUTH, imports=tuple(Import("service", naming.AUTHX, s) for s in callout_subjects)),
        Account(
            naming.AUTHX,
            exports=tuple(Export("service", s, accounts=(naming.AUTH,)) for s in callout_subjects),
            users=authx_users,
        ),
        Account(naming.SYS),
    )


def cluster_accounts(bus: EventBus, cpc_lists: Mapping[str, CrossLayer] | None = None) -> tuple[Account, ...]:
    """The accounts.conf of one cluster: its topic spaces and the extra accounts (`cpc_lists`: csc_accounts)."""
    if bus.cluster_type == "csc":
        own = csc_accounts(bus, cpc_lists)
        extras = tuple(
            Account(name, jetstream=bus.extra_accounts[name].jetstream) for name in bus.enabled_extra_accounts
        )
        return own + extras
    cluster_id = bus.cluster_id or ""
    extras = tuple(
        Account(name, jetstream=False, mappings=_js_mappings(naming.CSC)) for name in bus.enabled_extra_accounts
    )
    return (*cpc_accounts(cluster_id, bus.effective_cross_layer), *extras)


def cpc_accounts(cluster_id: str, lists: CrossLayer) -> tuple[Account, Account]:
    """A CPC's local `CSC` account (its window on the CSC, leaf-connected) and its `CPC` topic space.

    Cross-layer routing is imports and exports between these two accounts. The shape (and the
    account order, CSC first) is the upstream chart's: the overlap rules in crosslayer.py were
    measured on exactly this shape.
    """
    prefix = subjects.cpc_prefix(cluster_id)
    sourcing = subjects.sourcing_deliveries(cluster_id)
    upsourcing = subjects.upsourcing_deliveries(cluster_id)
    csc = Account(
        naming.CSC,
        jetstream=False,
        exports=(
            *(Export("stream", s) for s in lists.csc_exports),
            # Upstream exports the prefixed entries unprefixed too; `cpc.<id>.>` below is what the
            # CPC account imports them through. Kept for parity with the measured shape.
            *(Export("stream", s) for s in lists.csc_prefixed_exports),
            Export("stream", prefix + ">"),
            Export("service", f"{SOURCES_API}.CONSUMER.CREATE.>"),
            Export("service", "$JS.FC.>"),
            Export("stream", sourcing),
        ),
        imports=(
            *(Import("stream", naming.CPC, s, to=prefix + s) for s in lists.cpc_exports),
            Import("service", naming.CPC, "$JS.API.>", to=subjects.cpc_jetstream_api(cluster_id)),
            # The CSC's uplink streams source this CPC's MQTT streams: their deliveries up, flow control down.
            # Kept whether or not the CSC has uplinks (a CPC does not know): without them no uplink stream on the
            # CSC asks for a consumer, and its leaf grant has none of these subjects (leaf_permissions), so
            # nothing crosses here.
            Import("stream", naming.CPC, upsourcing),
            *(Import("service", naming.CPC, s) for s in UPSOURCING_FLOW_CONTROL),
        ),
        mappings=_js_mappings(naming.CSC, mqtt_sessions=True),
    )
    cpc = Account(
        naming.CPC,
        jetstream=True,
        exports=(
            *(Export("stream", s) for s in lists.cpc_exports),
            Export("service", "$JS.API.>", response_type="stream"),
            Export("service", "$JS.FC.>"),
            Export("stream", upsourcing),
        ),
        imports=(
            *(Import("stream", naming.CSC, s) for s in lists.csc_exports),
            *(Import("stream", naming.CSC, prefix + s, to=s) for s in lists.csc_prefixed_exports),
            # The CSC's JetStream only as far as the MQTT stream sources need it: no stream or KV admin for
            # any client of this account (anonymous MQTT lands here).
            *(Import("service", naming.CSC, s) for s in sourcing_api(cluster_id)),
            *(Import("service", naming.CSC, s) for s in sourcing_flow_control(cluster_id)),
            Import("stream", naming.CSC, sourcing),
        ),
    )
    return csc, cpc


def leaf_remotes(bus: EventBus, csc_endpoint: str) -> tuple[LeafRemote, ...]:
    """A CPC's leaf connections to the CSC: one for its CSC account, one per extra account."""
    tls = bus.cpc_leaf_client_tls
    remotes = [LeafRemote((csc_endpoint,), naming.CSC, Var(naming.leaf_seed_env()), tls)]
    remotes += [
        LeafRemote((csc_endpoint,), name, Var(naming.leaf_seed_env(name)), tls) for name in bus.enabled_extra_accounts
    ]
    return tuple(remotes)


def cluster(
    bus: EventBus,
    *,
    csc_endpoint: str | None = None,
    auth: CalloutBlock | None = CalloutBlock(),
    users: Mapping[str, tuple[User, ...]] | None = None,
    cpc_lists: Mapping[str, CrossLayer] | None = None,
) -> Cluster:
    """One cluster's main server model.

    The CSC endpoint is resolved by the caller (stack reference or config). Without an
    auth-callout (`auth=None`), `users` are static users added to the named accounts. `cpc_lists` (CSC): each
    CPC's own lists, which shape its account there (csc_accounts).
    """
    endpoint = bus.csc_endpoint or csc_endpoint
    remotes = leaf_remotes(bus, endpoint) if bus.cluster_type == "cpc" and endpoint else ()
    accounts = cluster_accounts(bus, cpc_lists)
    if auth is not None:
        accounts += auth_accounts(authx_users=tuple(User(nkey=key) for key in auth.auth_users))
    else:
        accounts += (Account(naming.SYS),)
    extra_users = users or {}
    return Cluster(
        name=bus.cluster_name,
        domain=bus.domain_account,
        accounts=tuple(replace(a, users=a.users + extra_users.get(a.name, ())) for a in accounts),
        leaf_remotes=remotes,
        leaf_server_tls=bus.csc_leaf_server_tls,
        auth=auth,
    )


LEAF_DENY = ("$MQTT.>",)
"""What a leaf's allow lists cannot keep out (nats-server exempts `$MQTT.` subjects of leafs from them)."""


def leaf_permissions(
    cluster_id: str, lists: CrossLayer, nats_version: str | None = None, *, uplinks: bool
) -> Permissions:
    """What one CPC's leaf identity may do in its account on the CSC (`CPC-<id>`), written from the leaf's side.

    Upstream gives leaf users the whole CSC account, so CPC 1's leaf key can read `cpc.2.>` and
    inject `cpc.2.command.>`. Here the account already keeps it to its own CPC (csc_accounts); these allow
    lists are a second fence within it. It may publish its own `cpc.<id>.` subjects, create consumers on
    its own source streams only (no stream admin, no other stream: docs/threat-model.md) and answer
    their flow control; it receives its broadcasts, its commands, its sources' deliveries and the
    replies to its JetStream requests. With `uplinks` (the CSC's mqttStreams.uplinks), for the CSC's uplink
    streams (cpc_uplink_stream) it also receives their flow control answers and sends their deliveries and
    the answers to their consumer creation on its own JetStream: holes A and B of docs/threat-model.md go
    through these grants, so without uplinks it has none of them. Measured to keep every route and
    QoS 1 sourcing working on
    each supported version; `_R_.>` (the service-import replies, whose prefix the server draws at
    random) is needed or the stream source never becomes active.

    Both directions deny `$MQTT.>`: nats-server passes `$MQTT.` subjects of a leaf connection without
    looking at its allow lists (only deny lists), so without the deny a leaf holding this key could write
    into the CSC's MQTT store (a QoS 1 command to any CPC) and read every stored MQTT message. Measured
    on both supported versions, and harmless to every route.

    `nats_version` is the CPC's nats-server. The hub sends these permissions to the leaf, and before
    2.15.1 the leaf checks a cross-layer export against its subject before the `cpc.<id>.` prefix is
    added (versions.leaf_checks_publish_before_transform): there the unprefixed cpcExports must be
    allowed too, or the CPC drops all its telemetry. Unknown versions get that shape, which routes
    on every version.
    """
    own = subjects.cpc_prefix(cluster_id) + ">"
    unprefixed = lists.cpc_exports if versions.leaf_checks_publish_before_transform(nats_version) else ()
    return Permissions(
        pub=SubjectRule(
            allow=(
                own,
                *unprefixed,
                *sourcing_api(cluster_id),
                *sourcing_flow_control(cluster_id),
                *((subjects.upsourcing_deliveries(cluster_id), UPSOURCING_REPLIES) if uplinks else ()),
            ),
            deny=LEAF_DENY,
        ),
        sub=SubjectRule(
            allow=(
                *lists.csc_exports,
                own,
                subjects.sourcing_deliveries(cluster_id),
                "_R_.>",
                subjects.cpc_jetstream_api(cluster_id),
                *(UPSOURCING_FLOW_CONTROL if uplinks else ()),
            ),
            deny=LEAF_DENY,
        ),
    )


SERVER_APIS = ("$SYS.>", "$MQTT.>")
"""Server internals a leaf into an extra account never needs: system requests (the account's connection list and
user info are answered in every account) and MQTT's store (which passes a leaf's allow lists, see LEAF_DENY)."""
JETSTREAM_APIS = ("$JS.>", "$KV.>", "$OBJ.>")


def extra_leaf_permissions(jetstream: bool) -> Permissions:
    """What a CPC's leaf into an extra account may do on the CSC.

    Extra accounts are one shared space across the fleet by design (a CSC stream may capture every cluster's
    publishes), so the leaf carries all of the account's traffic: everything but the server's internals, and the
    JetStream API unless the account has JetStream on the CSC (the CPC side maps its clients' JetStream there).
    Measured: the round trip and, with JetStream, the CPC's clients' JetStream still work; the leaf's seed gets
    no system answer and no MQTT store.
    """
    deny = SERVER_APIS if jetstream else (*SERVER_APIS, *JETSTREAM_APIS)
    rule = SubjectRule(allow=(">",), deny=deny)
    return Permissions(pub=rule, sub=rule)


MTLS_CLUSTER_SUFFIX = "-mtls"


def mtls_accounts(bus: EventBus) -> tuple[Account, ...]:
    """The nats-mtls server's accounts: the domain account (mapped to main's JetStream), AUTH, AUTHX, SYS.

    AUTHX has no users here: the callout responder is on the main server, reached through the
    AUTHX leaf.
    """
    domain = bus.domain_account
    return (
        Account(domain, jetstream=False, mappings=_js_mappings(domain, mqtt_sessions=True)),
        *auth_accounts(authx_users=()),
    )


def mtls_leaf_remotes(bus: EventBus, main_leaf_url: str) -> tuple[LeafRemote, ...]:
    """nats-mtls joins the main servers as three leafs: clients' account, AUTHX (callout) and SYS (monitoring)."""
    urls = (main_leaf_url,)
    return (
        LeafRemote(urls, bus.domain_account, Var(naming.MTLS_LEAF.seed_env or "")),
        LeafRemote(urls, naming.AUTHX, Var(naming.MTLS_AUTHX_LEAF.seed_env or "")),
        LeafRemote(urls, naming.SYS, Var(naming.MTLS_SYS_LEAF.seed_env or "")),
    )


def cpc_leaf_permissions(
    csc: EventBus,
    cpc_lists: Mapping[str, CrossLayer] | None = None,
    cpc_versions: Mapping[str, str | None] | None = None,
) -> dict[str, Permissions]:
    """Leaf permissions for every CPC the CSC lists; a CPC's own lists win over the fleet defaults.

    `cpc_versions`: the nats-server each CPC runs, as it exports it (absent: unknown).
    """
    fleet = csc.effective_cross_layer
    lists = cpc_lists or {}
    known = cpc_versions or {}
    return {
        cluster_id: leaf_permissions(
            cluster_id, lists.get(cluster_id, fleet), known.get(cluster_id), uplinks=csc.mqtt_streams.uplinks_enabled
        )
        for cluster_id in csc.cpc_ids
    }
