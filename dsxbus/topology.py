"""The routing model of one cluster: accounts, imports/exports, mappings and leaf remotes (INVENTORY §4)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from dsxbus import naming, subjects, versions
from dsxbus.config import EventBus, LeafTls, Permissions, SubjectRule
from dsxbus.crosslayer import CrossLayer
from dsxbus.subjectindex import SubjectIndex


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
"""Where the CSC account (and through it each CPC's leaf) reaches consumer creation in the SOURCES account."""
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
    """The stream (CSC account, on the CSC) sourcing CPC `cluster_id`'s `$MQTT_<kind>` into `cpc.<id>.` subjects.

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
    """Every JetStream API subject a CPC's stream sources call, as the CSC account names them, measured on each
    supported version: consumer create on its own source streams, in the plain and the extended (consumer name,
    filter) form."""
    found: tuple[str, ...] = ()
    for kind in SOURCED_KINDS:
        create = f"{SOURCES_API}.CONSUMER.CREATE.{cpc_source_stream(kind, cluster_id)}"
        found += (create, f"{create}.>")
    return found


def sourcing_flow_control(cluster_id: str) -> tuple[str, ...]:
    """Where a CPC's stream sources answer the CSC consumers' flow control (`$JS.FC.<stream>.<consumer>.*`)."""
    return tuple(flow_control(cpc_source_stream(kind, cluster_id)) for kind in SOURCED_KINDS)


UPSOURCING_FLOW_CONTROL = tuple(flow_control(mqtt_stream(kind)) for kind in SOURCED_KINDS)
"""Where the CSC's uplink streams answer the flow control of their consumers on a CPC's `$MQTT_msgs`/`$MQTT_rmsgs`."""
UPSOURCING_REPLIES = "$JSC.R.>"
"""Where nats-server waits for a CPC's answer to an uplink stream's consumer creation (`$JSC.R.<random>`, in the CSC
account). Measured: without it in a CPC leaf's pub grant the uplinks never become active."""


def _mqtt_consumer_create() -> tuple[tuple[str, str], ...]:
    """(in the CSC account, in SOURCES) for consumer creation on the CSC account's sourced MQTT streams."""
    pairs: tuple[tuple[str, str], ...] = ()
    for kind in SOURCED_KINDS:
        create = f"CONSUMER.CREATE.{mqtt_stream(kind)}"
        pairs += ((f"$JS.API.{create}", f"{MQTT_API}.{create}"), (f"$JS.API.{create}.>", f"{MQTT_API}.{create}.>"))
    return pairs


def sources_accounts(cpc_ids: tuple[str, ...]) -> tuple[tuple[Export, ...], tuple[Import, ...], Account]:
    """The SOURCES account on the CSC, and what the CSC account exports to and imports from it.

    The per-CPC source streams live here, not in the CSC account, because JetStream lets whoever creates a
    push consumer choose its deliver subject: a consumer a CPC's leaf creates delivers inside SOURCES, where
    nothing listens but the CSC account's import of `csc2cpc.>` (and there only each CPC's own stream sources,
    on deliver subjects the server draws at random). In the CSC account such a consumer could deliver into
    another CPC's commands or JetStream API. SOURCES fills its streams by sourcing the CSC account's MQTT streams.

    Flow control crosses per CPC (`cpc_ids`): SOURCES answers the CSC account's `$JS.FC.$MQTT_<kind>.>`, so a
    `$JS.FC.>` back the other way is refused at start ("import forms a cycle"), and a stream name is one token.
    """
    mqtt_api = _mqtt_consumer_create()
    fc = tuple(flow_control(mqtt_stream(kind)) for kind in SOURCED_KINDS)
    cpc_fc = tuple(subject for cluster_id in cpc_ids for subject in sourcing_flow_control(cluster_id))
    every_sourcing = f"{subjects.SOURCING_ROOT}.>"
    to_sources = (naming.SOURCES,)
    to_csc = (naming.CSC,)
    csc_exports = (
        *(Export("service", subject, accounts=to_sources) for subject, _ in mqtt_api),
        *(Export("service", subject, accounts=to_sources) for subject in fc),
        Export("stream", f"{SOURCES_DELIVER_PREFIX}.>", accounts=to_sources),
    )
    csc_imports = (
        Import("service", naming.SOURCES, "$JS.API.CONSUMER.CREATE.>", to=f"{SOURCES_API}.CONSUMER.CREATE.>"),
        *(Import("service", naming.SOURCES, subject) for subject in cpc_fc),
        Import("stream", naming.SOURCES, every_sourcing),
    )
    sources = Account(
        naming.SOURCES,
        jetstream=True,
        exports=(
            Export("service", "$JS.API.CONSUMER.CREATE.>", accounts=to_csc),
            *(Export("service", subject, accounts=to_csc) for subject in cpc_fc),
            Export("stream", every_sourcing, accounts=to_csc),
        ),
        imports=(
            *(Import("service", naming.CSC, subject, to=local) for subject, local in mqtt_api),
            *(Import("service", naming.CSC, subject) for subject in fc),
            Import("stream", naming.CSC, f"{SOURCES_DELIVER_PREFIX}.>"),
        ),
    )
    return csc_exports, csc_imports, sources


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


def cluster_accounts(bus: EventBus) -> tuple[Account, ...]:
    """The accounts.conf of one cluster: its topic spaces and the extra accounts."""
    if bus.cluster_type == "csc":
        exports, imports, sources = sources_accounts(bus.cpc_ids)
        own: tuple[Account, ...] = (Account(naming.CSC, jetstream=True, exports=exports, imports=imports), sources)
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
) -> Cluster:
    """One cluster's main server model.

    The CSC endpoint is resolved by the caller (stack reference or config). Without an
    auth-callout (`auth=None`), `users` are static users added to the named accounts.
    """
    endpoint = bus.csc_endpoint or csc_endpoint
    remotes = leaf_remotes(bus, endpoint) if bus.cluster_type == "cpc" and endpoint else ()
    accounts = cluster_accounts(bus)
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
    """What one CPC's leaf identity may do in the CSC account, written from the leaf's side.

    Upstream gives leaf users the whole CSC account, so CPC 1's leaf key can read `cpc.2.>` and
    inject `cpc.2.command.>`. Here it may publish its own `cpc.<id>.` subjects, create consumers on
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


@dataclass(frozen=True)
class UnprefixedLeak:
    """CPC `source`'s leaf may publish `pattern` unprefixed (before 2.15.1), and CPC `target` imports it."""

    source: str
    pattern: str
    target: str
    csc_export: str
    witness: str


def unprefixed_leaks(
    cpc_lists: Mapping[str, CrossLayer], cpc_versions: Mapping[str, str | None]
) -> list[UnprefixedLeak]:
    """Where the unprefixed cpcExports one CPC's leaf needs before 2.15.1 would reach another CPC.

    Such a leaf may publish `sensor.x` into the CSC account; if another CPC's cscExports match it, that
    CPC receives it as a broadcast from the CSC.
    """
    # A fleet's CPCs mostly share their lists (inherited fleet defaults): work out each distinct pair of lists once.
    found: dict[tuple[tuple[str, ...], tuple[str, ...]], list[tuple[str, str, str]]] = {}

    def collisions(cpc_exports: tuple[str, ...], csc_exports: tuple[str, ...]) -> list[tuple[str, str, str]]:
        key = (cpc_exports, csc_exports)
        if key not in found:
            index = SubjectIndex(csc_exports)
            found[key] = [
                (pattern, csc_exports[position], subjects.intersects(pattern, csc_exports[position]) or "")
                for pattern in cpc_exports
                for position in index.colliding(pattern)
            ]
        return found[key]

    leaks = []
    for source, lists in cpc_lists.items():
        if not versions.leaf_checks_publish_before_transform(cpc_versions.get(source)):
            continue
        for target, other in cpc_lists.items():
            if target != source:
                for pattern, csc_export, witness in collisions(lists.cpc_exports, other.csc_exports):
                    leaks.append(UnprefixedLeak(source, pattern, target, csc_export, witness))
    return leaks


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
            cluster_id, lists.get(cluster_id, fleet), known.get(cluster_id), uplinks=csc.mqtt_streams.uplinks
        )
        for cluster_id in csc.cpc_ids
    }
