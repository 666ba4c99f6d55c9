"""Domain rules over a parsed stack config: everything upstream `validation.yaml` checks, and what it misses."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from urllib.parse import urlsplit

from dsxbus import (
    crosslayer,
    gateway,
    grants,
    hostnames,
    naming,
    natsconf,
    nkeys,
    subjects,
    sveltos,
    topology,
    versions,
)
from dsxbus.config import (
    EventBus,
    FleetDefaults,
    MtlsIdentity,
    NkeyIdentity,
    NoAuth,
    OAuth2Client,
    Permissions,
    inherit,
)
from dsxbus.crosslayer import CrossLayerLists
from dsxbus.errors import Problem, key_path
from dsxbus.model import GrantRisk

_DNS_NAME = re.compile(r"^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")
_LEAF_SCHEMES = ("nats", "tls", "ws", "wss")


def problems(bus: EventBus) -> list[Problem]:
    """Every problem in one cluster's config, errors and warnings.

    A CPC may leave crossLayer and jwks to the CSC's fleet defaults; checks that need them run on
    the effective config (`effective_problems`) once the CSC's values are known.
    """
    found: list[Problem] = []
    found += _role_problems(bus)
    found += _extra_account_problems(bus)
    found += _permission_problems(bus)
    found += _grant_problems_of(bus)
    found += _mtls_problems(bus)
    found += _gateway_problems(bus)
    found += _stream_problems(bus)
    found += _image_problems(bus)
    found += _sveltos_problems(bus)
    if bus.cross_layer is not None or bus.csc_stack is None:
        found += sveltos_route_problems(bus)
    if bus.cross_layer is not None:
        found += cross_layer_problems(bus)
    if bus.cluster_type == "csc" or bus.csc_stack is None:
        found += _oauth2_problems(bus)  # nothing to inherit a jwks block from
    return found


def effective_problems(cpc: EventBus, fleet: FleetDefaults) -> list[Problem]:
    """The checks that depend on fleet defaults, run on a CPC with the CSC's values filled in."""
    effective = inherit(cpc, fleet)
    found = []
    if cpc.cross_layer is None:
        found += cross_layer_problems(effective) + sveltos_route_problems(effective)
        # Grants in the CPC's window on the CSC are judged against its telemetry, known only now.
        found += grant_problems(effective, [effective.effective_cross_layer.lists()], _in_window)
    return found + _oauth2_problems(effective, inherited=cpc.auth.jwks is None)


def cross_layer_problems(bus: EventBus) -> list[Problem]:
    lists = bus.effective_cross_layer.lists()
    return [
        Problem(
            key_path("crossLayer", f.entry.list_name, f.entry.index),
            f.entry.pattern,
            f.describe(),
            warning=not f.fatal,
        )
        for f in crosslayer.check(lists)
    ]


def _role_problems(bus: EventBus) -> list[Problem]:
    found: list[Problem] = []
    if bus.cluster_type == "cpc":
        if bus.cluster_id is None:
            found.append(Problem(key_path("clusterId"), None, 'required on a CPC: set it, e.g. clusterId: "a"'))
        elif not re.match(naming.CLUSTER_ID_PATTERN, bus.cluster_id):
            found.append(
                Problem(
                    key_path("clusterId"),
                    bus.cluster_id,
                    "use lower-case letters and digits only ([a-z0-9]+): it becomes part of NATS "
                    "subjects (cpc.<id>.>), env var and Secret names",
                )
            )
        if bus.csc_stack is None and bus.csc_endpoint is None:
            found.append(
                Problem(
                    key_path("cscStack"),
                    None,
                    "a CPC must find the CSC: set cscStack (e.g. organization/dsx-bus/csc) or "
                    "cscEndpoint (e.g. nats://leaf.csc.example.com:7422)",
                )
            )
        for key, value in (
            ("cpcs", bus.cpcs or None),
            ("leafEndpoint", bus.leaf_endpoint),
            ("cscLeafServerTLS", bus.csc_leaf_server_tls),
        ):
            if value:
                found.append(Problem(key_path(key), _plain(value), "only the CSC has this setting; remove it here"))
        if bus.csc_endpoint is not None:
            found += _url_problems("cscEndpoint", bus.csc_endpoint)
    else:
        for key, value in (
            ("clusterId", bus.cluster_id),
            ("cscStack", bus.csc_stack),
            ("cscEndpoint", bus.csc_endpoint),
            ("cpcLeafClientTLS", bus.cpc_leaf_client_tls),
        ):
            if value is not None:
                found.append(Problem(key_path(key), _plain(value), "only a CPC has this setting; remove it here"))
        if bus.leaf_endpoint is None:
            found.append(
                Problem(
                    key_path("leafEndpoint"),
                    None,
                    "required on the CSC: the leaf URL CPCs dial, e.g. nats://leaf.csc.example.com:7422",
                )
            )
        else:
            found += _url_problems("leafEndpoint", bus.leaf_endpoint)
        stacks: dict[str, list[str]] = defaultdict(list)
        for cluster_id, stack in bus.cpcs.items():
            stacks[stack].append(cluster_id)
            if not re.match(naming.CLUSTER_ID_PATTERN, cluster_id):
                found.append(
                    Problem(
                        key_path("cpcs", cluster_id),
                        cluster_id,
                        "CPC ids use lower-case letters and digits only ([a-z0-9]+)",
                    )
                )
        for stack, ids in stacks.items():
            if len(ids) > 1:
                found.append(
                    Problem(
                        key_path("cpcs"),
                        ids,
                        f"ids {', '.join(ids)} all name stack {stack!r}: each CPC has its own stack",
                    )
                )
        if not bus.cpcs:
            found.append(
                Problem(key_path("cpcs"), {}, "no CPCs yet: the CSC accepts no leaf connections", warning=True)
            )
    return found


def _url_problems(key: str, url: str) -> list[Problem]:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme not in _LEAF_SCHEMES or not parts.hostname or port is None:
        return [
            Problem(
                key_path(key),
                url,
                f"write a leaf URL with scheme ({', '.join(_LEAF_SCHEMES)}), host and port, "
                "e.g. nats://leaf.csc.example.com:7422",
            )
        ]
    return []


def _extra_account_problems(bus: EventBus) -> list[Problem]:
    found: list[Problem] = []
    env_tokens: dict[str, list[str]] = defaultdict(list)
    secret_tokens: dict[str, list[str]] = defaultdict(list)
    for name in bus.enabled_extra_accounts:
        key = key_path("extraAccounts", name)
        if not re.match(naming.ACCOUNT_NAME_PATTERN, name):
            found.append(Problem(key, name, "account names start with a letter and use letters and digits only"))
            continue
        if name.upper() in naming.RESERVED_ACCOUNTS:
            found.append(
                Problem(
                    key,
                    name,
                    f"{', '.join(sorted(naming.RESERVED_ACCOUNTS))} are built-in accounts; choose another name",
                )
            )
            continue
        if name.upper().startswith("CPC"):
            found.append(Problem(key, name, "names starting with 'cpc' are reserved for CPC routing; rename it"))
            continue
        env_tokens[naming.account_env_token(name)].append(name)
        secret_tokens[naming.account_secret_token(name)].append(name)
    for tokens, what in ((env_tokens, "env var"), (secret_tokens, "Secret")):
        for token, names in tokens.items():
            if len(names) > 1:
                found.append(
                    Problem(
                        key_path("extraAccounts"),
                        names,
                        f"these accounts share the {what} token {token!r} (names differ only in case): "
                        "their keys would overwrite each other; rename one",
                    )
                )
    return found


def accounts(bus: EventBus) -> tuple[str, ...]:
    """Accounts an operator permission may name on this cluster."""
    own = (naming.CSC,) if bus.cluster_type == "csc" else (naming.CPC, naming.CSC)
    return (*own, naming.SYS, *bus.enabled_extra_accounts)


def _permission_problems(bus: EventBus) -> list[Problem]:
    found: list[Problem] = []
    perms = bus.auth.permissions
    known = accounts(bus)
    identities: list[tuple[tuple[str | int, ...], str, Permissions | None]] = []
    for kind, entries in (("oauth2", perms.oauth2), ("mtls", perms.mtls), ("nkey", perms.nkey)):
        for name, entry in entries.items():
            identities.append((("auth", "permissions", kind, name), entry.account, entry.permissions))
    if perms.noauth is not None:
        identities.append((("auth", "permissions", "noauth"), perms.noauth.account, perms.noauth.permissions))
    for path, account, permissions in identities:
        if os_env_reference(account):
            continue
        if account not in known:
            found.append(
                Problem(
                    key_path(*path, "account"),
                    account,
                    f"no such account on this {bus.cluster_type.upper()}; use one of "
                    f"{', '.join(known)} (extra accounts must be listed in extraAccounts)",
                )
            )
        found += _subject_problems(path, permissions)
    generated = naming.generated_permission_names(
        bus.cluster_type, bus.mtls.enabled, bus.cpc_ids, bus.enabled_extra_accounts
    )
    for name, entry in perms.nkey.items():
        if name in generated:
            found.append(
                Problem(
                    key_path("auth", "permissions", "nkey", name),
                    name,
                    "dsx-bus generates an nkey entry with this name and would overwrite yours; rename it",
                )
            )
        if not os_env_reference(entry.public_key) and not nkeys.is_public_key(entry.public_key, nkeys.KeyKind.USER):
            found.append(
                Problem(
                    key_path("auth", "permissions", "nkey", name, "public_key"),
                    entry.public_key,
                    "not a valid NKey user public key (56 characters starting with U)",
                )
            )
    env_names = naming.generated_env_names(bus.cluster_type, bus.mtls.enabled, bus.cpc_ids, bus.enabled_extra_accounts)
    for env in bus.auth_callout.extra_envs:
        if env in env_names:
            found.append(
                Problem(
                    key_path("authCallout", "extraEnvs", env),
                    env,
                    "dsx-bus sets this env var itself (it carries a generated key); remove it",
                )
            )
    if (
        bus.cluster_type == "csc"
        and perms.noauth is not None
        and perms.noauth.account in (naming.CSC, *bus.enabled_extra_accounts)
    ):
        # What noauth may publish is held to the grant rules; what it may read, a rogue leaf reads too.
        found.append(
            Problem(
                key_path("auth", "permissions", "noauth", "account"),
                perms.noauth.account,
                "the auth-callout cannot tell a leaf connection from a client, so a leaf with no key "
                "lands in this account with the noauth permissions (FINDINGS item 4) and receives whatever "
                "noauth may subscribe to. Remove noauth on the CSC for production",
                warning=True,
            )
        )
    if perms.mtls and not bus.mtls.enabled:
        found.append(
            Problem(
                key_path("auth", "permissions", "mtls"),
                sorted(perms.mtls),
                "mtls.enabled is false, so these identities can never connect",
                warning=True,
            )
        )
    return found


_Entry = OAuth2Client | MtlsIdentity | NkeyIdentity | NoAuth


def _identities(bus: EventBus) -> list[tuple[str, str | None, tuple[str | int, ...], _Entry]]:
    """(kind, name, key path, entry) of every permissions.json entry the operator writes."""
    perms = bus.auth.permissions
    found: list[tuple[str, str | None, tuple[str | int, ...], _Entry]] = []
    for kind, entries in (("oauth2", perms.oauth2), ("mtls", perms.mtls), ("nkey", perms.nkey)):
        for name, entry in entries.items():
            found.append((kind, name, ("auth", "permissions", kind, name), entry))
    if perms.noauth is not None:
        found.append(("noauth", None, ("auth", "permissions", "noauth"), perms.noauth))
    return found


def _in_window(account: str) -> bool:
    return account == naming.CSC


def _grant_problems_of(bus: EventBus) -> list[Problem]:
    lists = [bus.effective_cross_layer.lists()]
    if bus.cluster_type == "cpc" and bus.cross_layer is None and bus.csc_stack is not None:
        # The window account's dangers depend on the telemetry inherited from the CSC: effective_problems.
        return grant_problems(bus, lists, lambda account: not _in_window(account))
    return grant_problems(bus, lists)


def grant_problems(
    bus: EventBus, lists: Sequence[CrossLayerLists], select: Callable[[str], bool] = lambda _: True
) -> list[Problem]:
    """What noauth and the operator's entries may reach without acknowledging it (dsxbus.grants), in the accounts
    `select` picks, with `lists` the cross-layer lists the cluster routes (on the CSC, every CPC's too)."""
    return [problem for _, problem in _grant_findings(bus, lists, select)]


def _grant_findings(
    bus: EventBus, lists: Sequence[CrossLayerLists], select: Callable[[str], bool] = lambda _: True
) -> list[tuple[tuple[str, GrantRisk], Problem]]:
    """Each problem with (its key, the risk): the same finding under other lists is the same problem."""
    found: list[tuple[tuple[str, GrantRisk], Problem]] = []
    for kind, name, path, entry in _identities(bus):
        if not select(entry.account):
            continue
        account = None if os_env_reference(entry.account) else entry.account
        cluster_id = bus.cluster_id if bus.cluster_type == "cpc" else None
        where = grants.landing(bus.cluster_type, account, lists, cluster_id)
        checked = grants.risks_for(kind)
        for reached in grants.reach(entry.permissions, where, checked):
            if reached.risk in entry.acknowledge:
                continue
            parts, value = grants.located(reached, entry.permissions)
            key = key_path(*path, *parts)
            acknowledge = ".".join(str(part) for part in (*path, "acknowledge"))
            fix = (
                f"{grants.describe(reached, kind, name)}. Fix: {grants.FIXES[reached.risk]}; or, if "
                f"{grants.who(kind, name)} {'are' if kind == 'noauth' else 'is'} meant to, add "
                f"{reached.risk} to {acknowledge}"
            )
            found.append(((key, reached.risk), Problem(key, value, fix)))
        # A stale acknowledgement would let a later, wider grant through unreported. Judged with the lists
        # unknown (over-approximated), so that it is never called stale where some CPC's lists need it.
        possible = {r.risk for r in grants.reach(entry.permissions, grants.landing(bus.cluster_type, account, None))}
        for index, risk in enumerate(entry.acknowledge):
            if risk == "broadcasts" or risk in possible:
                continue
            found.append(
                (
                    (key_path(*path, "acknowledge", index), risk),
                    Problem(
                        key_path(*path, "acknowledge", index),
                        risk,
                        f"the permissions of {grants.who(kind, name)} reach no {risk}: remove it, so that a grant "
                        "that does is reported",
                        warning=True,
                    ),
                )
            )
    return found


def os_env_reference(value: str) -> bool:
    """`${VAR}` / `$VAR`: the auth-callout expands env references in these fields at run time."""
    return value.startswith("$")


def _subject_problems(path: tuple[str | int, ...], permissions: Permissions | None) -> list[Problem]:
    found: list[Problem] = []
    if permissions is None:
        return found
    for direction in ("pub", "sub"):
        rule = getattr(permissions, direction)
        if rule is None:
            continue
        for verdict in ("allow", "deny"):
            for index, subject in enumerate(getattr(rule, verdict)):
                reason = subjects.problem(subject)
                if reason is not None:
                    found.append(
                        Problem(
                            key_path(*path, "permissions", direction, verdict, index),
                            subject,
                            f"not a valid NATS subject: it {reason}",
                        )
                    )
    return found


def _oauth2_problems(bus: EventBus, *, inherited: bool = False) -> list[Problem]:
    if not bus.auth.permissions.oauth2 or bus.jwks is not None:
        return []
    where = " (and the CSC exports none to inherit)" if inherited else ""
    return [
        Problem(
            key_path("auth", "permissions", "oauth2"),
            sorted(bus.auth.permissions.oauth2),
            f"OAuth2 clients need auth.jwks (url, issuer, audience) on every cluster{where}: without it the "
            "auth-callout has no OAuth2 authenticator and these clients are rejected or fall to noauth",
        )
    ]


def _mtls_problems(bus: EventBus) -> list[Problem]:
    mtls = bus.mtls
    found: list[Problem] = []
    for index, host in enumerate(mtls.hostnames):
        key = key_path("mtls", "hostnames", index)
        if hostnames.is_ip_literal(host):
            found.append(
                Problem(
                    key,
                    host,
                    "an IP address cannot be a TLSRoute hostname: TLS clients send no SNI "
                    "for an IP, and Gateway API forbids it. Point a DNS name at the gateway "
                    "and use that name here and in the clients' URL",
                )
            )
        elif not _DNS_NAME.match(host):
            found.append(Problem(key, host, "not a DNS name (lower-case labels, optional leading '*.')"))
    if not mtls.enabled:
        return found
    if (mtls.server_cert_sans is None) == (mtls.certificate_issuer is None):
        found.append(
            Problem(
                key_path("mtls"),
                "serverCertSans/certificateIssuer",
                "set exactly one: serverCertSans (the SANs of your nats-mtls-server-tls Secret) or "
                "certificateIssuer (dsx-bus requests the certificate from cert-manager)",
            )
        )
    if mtls.certificate_issuer is not None and not mtls.hostnames:
        found.append(
            Problem(
                key_path("mtls", "hostnames"),
                [],
                "cert-manager needs at least one DNS name for the server certificate",
            )
        )
    if mtls.server_cert_sans is not None:
        for host in hostnames.uncovered(mtls.hostnames, mtls.server_cert_sans):
            found.append(
                Problem(
                    key_path("mtls", "hostnames"),
                    host,
                    f"no SAN of the server certificate {list(mtls.server_cert_sans)} covers it: clients "
                    "reaching this name get a certificate error. Add it to the certificate",
                )
            )
    for index, url in enumerate(mtls.client_urls):
        found += _client_url_problems(key_path("mtls", "clientUrls", index), url, mtls.hostnames, mtls.server_cert_sans)
    return found


def _gateway_problems(bus: EventBus) -> list[Problem]:
    if bus.mtls.hostnames:
        return []
    return [
        Problem(
            key_path("mtls", "hostnames"),
            [],
            f"the TLSRoute {route.name} is {gateway.api_version(bus, route)}, which requires at least one hostname "
            "(the SNI names it routes; the API server refuses the route without): list the DNS names clients dial, "
            "or set gateway.tlsRouteApiVersion to gateway.networking.k8s.io/v1alpha2 if the cluster still serves it",
        )
        for route in gateway.enabled_routes(bus)
        if gateway.requires_hostnames(bus, route)
    ]


def _client_url_problems(key: str, url: str, routes: Iterable[str], sans: Iterable[str] | None) -> list[Problem]:
    try:
        host = hostnames.host_of_url(url)
    except ValueError:
        return [Problem(key, url, "write a broker URL with a host, e.g. ssl://mqtt.example.com:8883")]
    routes = tuple(routes)
    if routes and not hostnames.sends_sni(host):
        return [
            Problem(
                key,
                url,
                "an IP address sends no SNI, so the TLSRoute (which matches on its hostnames) "
                "resets the connection. Give clients a DNS name from mtls.hostnames",
            )
        ]
    if routes and hostnames.uncovered([host], routes):
        return [
            Problem(
                key,
                url,
                f"{host!r} is not among mtls.hostnames {list(routes)}: the gateway resets the "
                "connection before NATS sees it",
            )
        ]
    if sans is not None and hostnames.uncovered([host], sans):
        return [Problem(key, url, f"no certificate SAN covers {host!r}: the client rejects the server certificate")]
    return []


_NO_FILE_STORE = (
    "the bus's NATS servers have no file store (max_file_store 0, as upstream: no volumes), so JetStream refuses "
    "the stream ('insufficient storage resources'); use memory"
)


def _stream_problems(bus: EventBus) -> list[Problem]:
    found = []
    if bus.mqtt_streams.replicas > bus.nats.replicas:
        found.append(
            Problem(
                key_path("mqttStreams", "replicas"),
                bus.mqtt_streams.replicas,
                f"more stream replicas than NATS servers (nats.replicas = {bus.nats.replicas}): JetStream "
                "cannot place the MQTT streams and QoS 1 clients get no CONNACK. Lower it or add servers",
            )
        )
    if bus.mqtt_streams.storage == "file":
        found.append(Problem(key_path("mqttStreams", "storage"), "file", _NO_FILE_STORE))
    return found + _memory_problems(bus)


def _memory_problems(bus: EventBus) -> list[Problem]:
    # JetStream reserves each memory stream's maxBytes when it is created and refuses a stream that does not fit
    # ("insufficient memory resources available"): NACK then retries forever and MQTT QoS 1 has nowhere to go.
    settings = bus.mqtt_streams
    try:
        store = natsconf.size_in_bytes(bus.nats.max_memory_store)
    except ValueError:
        return []  # not a size: the chart and nats-server refuse it on their own (issue: typed sizes)
    main = 5 * settings.max_bytes if settings.max_bytes > 0 else 0
    per_cpc = 2 * len(bus.cpc_ids) * settings.per_cpc_max_bytes if bus.cluster_type == "csc" else 0
    if main + per_cpc <= store:
        return []
    spelled = f"5 x mqttStreams.maxBytes ({settings.max_bytes})"
    if per_cpc:
        spelled += f" + 2 x {len(bus.cpc_ids)} CPCs x mqttStreams.perCpcMaxBytes ({settings.per_cpc_max_bytes})"
    return [
        Problem(
            key_path("nats", "maxMemoryStore"),
            bus.nats.max_memory_store,
            f"is {store} bytes, but the MQTT streams reserve {main + per_cpc} ({spelled}): JetStream refuses the "
            "streams that do not fit, and MQTT QoS 1 and retained messages for those clusters have nowhere to go. "
            "Fix: raise nats.maxMemoryStore, or lower mqttStreams.maxBytes / perCpcMaxBytes",
        )
    ]


def _image_problems(bus: EventBus) -> list[Problem]:
    if bus.images.accept_untested_nats_version:
        return []
    reference = bus.images.nats
    version = bus.nats_server_version
    supported = ", ".join(versions.SUPPORTED)
    opt_in = "or set images.acceptUntestedNatsVersion: true to run it untested"
    if version is None:
        return [
            Problem(
                key_path("images", "nats"),
                reference,
                f"names no nats-server version, so dsx-bus cannot tell whether it is one it is tested on "
                f"({supported}). Fix: tag it with the version, e.g. {versions.default_image()} (a digest may "
                f"follow: {versions.default_image()}@sha256:...), {opt_in}",
            )
        ]
    if not versions.is_supported(version):
        return [
            Problem(
                key_path("images", "nats"),
                reference,
                f"nats-server {version} is not a version dsx-bus is tested on ({supported}): its leaf "
                f"permissions and routing were never measured there. Fix: use {versions.default_image()} or "
                f"nats:{versions.NEWEST}-alpine, {opt_in}",
            )
        ]
    return []


def _sveltos_problems(bus: EventBus) -> list[Problem]:
    block = bus.sveltos
    if not block.enabled:
        return []
    found = sveltos.problems(block)
    mtls = bus.mtls
    if not mtls.enabled:
        found.append(
            Problem(
                key_path("sveltos", "enabled"),
                True,
                "the agent signs in with a client certificate on the nats-mtls server; set mtls.enabled. (The "
                "agent cannot sign NKey nonces, and a token in its Secret would be an OAuth2 token that expires)",
            )
        )
    elif mtls.certificate_issuer is None and block.client_certificate_secret is None:
        found.append(
            Problem(
                key_path("sveltos", "clientCertificateSecret"),
                None,
                "with mtls.serverCertSans (your own certificates) name a Secret in the bus namespace holding the "
                "agent's tls.crt, tls.key and ca.crt, signed by the CA nats-mtls trusts; or set "
                "mtls.certificateIssuer and dsx-bus requests the certificate from cert-manager",
            )
        )
    if mtls.enabled and mtls.server_cert_sans is not None:
        in_cluster = sveltos.in_cluster_hostnames(bus.namespace)[0]
        if hostnames.uncovered([in_cluster], mtls.server_cert_sans):
            found.append(
                Problem(
                    key_path("mtls", "serverCertSans"),
                    list(mtls.server_cert_sans),
                    f"Sveltos dials {sveltos.url(bus.namespace)} and checks the certificate against "
                    f"{in_cluster!r}; add that name to the nats-mtls server certificate",
                )
            )
    if block.jetstream is not None and block.jetstream.storage == "file":
        found.append(Problem(key_path("sveltos", "jetstream", "storage"), "file", _NO_FILE_STORE))
    identity = block.identity_for(bus.cluster_name)
    issued_here = mtls.certificate_issuer is not None and block.client_certificate_secret is None
    if issued_here and (not identity.startswith("CN=") or "," in identity):
        found.append(
            Problem(
                key_path("sveltos", "identity"),
                identity,
                "dsx-bus requests the agent's certificate with this as its common name, so write it as CN=<name> "
                "(the auth-callout matches CN= first); for another identity bring your own certificate in "
                "sveltos.clientCertificateSecret",
            )
        )
    for name, entry in bus.auth.permissions.mtls.items():
        path = ("auth", "permissions", "mtls", name)
        if entry.identity != identity:
            if name == sveltos.PERMISSION_NAME:
                found.append(
                    Problem(key_path(*path), name, "dsx-bus generates this mTLS entry for Sveltos; rename yours")
                )
            continue
        if entry.account != bus.domain_account:
            found.append(
                Problem(
                    key_path(*path, "account"),
                    entry.account,
                    f"the Sveltos identity {identity} must land in {bus.domain_account}, where cross-layer "
                    "routes deliver; or remove this entry and let dsx-bus generate it",
                )
            )
        for subject in block.subscriptions():
            if not sveltos.allows_subscribe(entry.permissions, subject):
                found.append(
                    Problem(
                        key_path(*path, "permissions", "sub"),
                        subject,
                        f"the Sveltos identity {identity} may not subscribe to it, so the agent's subscription "
                        "is refused and no event arrives. Allow it, or remove this entry and let dsx-bus "
                        "generate exactly the permissions Sveltos needs",
                    )
                )
    return found


def sveltos_route_problems(bus: EventBus) -> list[Problem]:
    """On a CPC, every subject Sveltos listens on must be one a cross-layer route can deliver from the CSC."""
    block = bus.sveltos
    if not block.enabled or bus.cluster_type != "cpc":
        return []
    lists = bus.effective_cross_layer
    routes = (*lists.csc_exports, *lists.csc_prefixed_exports)
    listened: list[tuple[tuple[str | int, ...], str]] = []
    if block.nats is not None:
        listened += [(("sveltos", "nats", "subjects", i), s) for i, s in enumerate(block.nats.subjects)]
    for j, stream in enumerate(block.jetstream.streams if block.jetstream else ()):
        listened += [(("sveltos", "jetstream", "streams", j, "subjects", i), s) for i, s in enumerate(stream.subjects)]
    return [
        Problem(
            key_path(*path),
            subject,
            f"no cross-layer route delivers it to this CPC (crossLayer.cscExports {list(lists.csc_exports)}, "
            f"cscPrefixedExports {list(lists.csc_prefixed_exports)}): events published on the CSC never arrive. "
            "Listen on a subject those lists carry, or add it to them",
        )
        for path, subject in listened
        if subjects.is_valid(subject) and not any(subjects.collide(subject, route) for route in routes)
    ]


def _plain(value: object) -> object:
    if hasattr(value, "model_dump"):
        return value.model_dump(by_alias=True, exclude_defaults=True)
    return value


def fleet_problems(stacks: Mapping[str, EventBus], project: str = "dsx-bus") -> list[Problem]:
    """Consistency among stack files: one CSC; every CPC it lists exists, is that CPC, and points back."""
    found: list[Problem] = []
    cscs = [name for name, bus in stacks.items() if bus.cluster_type == "csc"]
    if len(cscs) > 1:
        found.append(
            Problem(
                "stacks",
                cscs,
                "more than one stack says clusterType: csc; a fleet has exactly one CSC",
            )
        )
    ids: dict[str, list[str]] = defaultdict(list)
    for name, bus in stacks.items():
        if bus.cluster_type == "cpc" and bus.cluster_id:
            ids[bus.cluster_id].append(name)
    for cluster_id, names in ids.items():
        if len(names) > 1:
            found.append(
                Problem(
                    f"{', '.join(names)}: {key_path('clusterId')}",
                    cluster_id,
                    "CPC ids must be unique in the fleet: they name each CPC's subjects and keys",
                )
            )
    for csc_name in cscs:
        csc = stacks[csc_name]
        for cluster_id, reference in csc.cpcs.items():
            stack = stack_name(reference)
            key = f"{csc_name}: {key_path('cpcs', cluster_id)}"
            cpc = stacks.get(stack)
            if cpc is None:
                found.append(Problem(key, reference, f"no stack file Pulumi.{stack}.yaml among the stacks checked"))
                continue
            if cpc.cluster_type != "cpc" or cpc.cluster_id != cluster_id:
                found.append(
                    Problem(
                        key,
                        reference,
                        f"stack {stack} is {cpc.cluster_type} {cpc.cluster_id!r}, not CPC {cluster_id!r}",
                    )
                )
                continue
            if cpc.csc_stack is not None and stack_name(cpc.csc_stack) != csc_name:
                found.append(
                    Problem(
                        f"{stack}: {key_path('cscStack')}",
                        cpc.csc_stack,
                        f"this CPC is listed by CSC stack {csc_name!r} but points at another CSC",
                    )
                )
            missing = [a for a in cpc.enabled_extra_accounts if a not in csc.enabled_extra_accounts]
            if missing:
                found.append(
                    Problem(
                        f"{stack}: {key_path('extraAccounts')}",
                        missing,
                        f"the CSC ({csc_name}) has no such account: this CPC's leaf for it is refused. "
                        "Add it to the CSC's extraAccounts",
                    )
                )
            found += [
                Problem(f"{stack}: {p.key}", p.value, p.fix, p.warning)
                for p in effective_problems(cpc, FleetDefaults(cross_layer=csc.cross_layer, jwks=csc.jwks))
            ]
        found += _unprefixed_leak_problems(csc, stacks)
        found += _fleet_grant_problems(csc_name, csc, stacks)
        listed = {stack_name(ref) for ref in csc.cpcs.values()}
        for name, bus in stacks.items():
            if bus.cluster_type == "cpc" and name not in listed:
                found.append(
                    Problem(
                        f"{csc_name}: {key_path('cpcs')}",
                        name,
                        f"CPC stack {name} is not listed: the CSC will refuse its leaf. Add "
                        f"{bus.cluster_id}: organization/{project}/{name}",
                        warning=True,
                    )
                )
    return found


def _fleet_grant_problems(csc_name: str, csc: EventBus, stacks: Mapping[str, EventBus]) -> list[Problem]:
    """The CSC's grants against every listed CPC's own lists: a CPC may import commands the fleet defaults do not."""
    fleet = FleetDefaults(cross_layer=csc.cross_layer, jwks=csc.jwks)
    own = [
        inherit(bus, fleet).effective_cross_layer.lists()
        for bus in stacks.values()
        if bus.cluster_type == "cpc" and bus.cluster_id in csc.cpcs
    ]
    defaults = [csc.effective_cross_layer.lists()]
    known = {key for key, _ in _grant_findings(csc, defaults)}
    return [
        Problem(f"{csc_name}: {p.key}", p.value, p.fix, p.warning)
        for key, p in _grant_findings(csc, defaults + own)
        if key not in known and not p.warning
    ]


def _unprefixed_leak_problems(csc: EventBus, stacks: Mapping[str, EventBus]) -> list[Problem]:
    fleet = FleetDefaults(cross_layer=csc.cross_layer, jwks=csc.jwks)
    cpcs = {
        bus.cluster_id: (name, inherit(bus, fleet))
        for name, bus in stacks.items()
        if bus.cluster_type == "cpc" and bus.cluster_id in csc.cpcs
    }
    lists = {cid: bus.effective_cross_layer for cid, (_, bus) in cpcs.items()}
    found = []
    for leak in topology.unprefixed_leaks(lists, {cid: bus.nats_server_version for cid, (_, bus) in cpcs.items()}):
        name, bus = cpcs[leak.source]
        index = bus.effective_cross_layer.cpc_exports.index(leak.pattern)
        found.append(
            Problem(
                f"{name}: {key_path('crossLayer', 'cpcExports', index)}",
                leak.pattern,
                f"overlaps cscExports {leak.csc_export!r} of CPC {leak.target!r} (both match {leak.witness!r}). "
                f"On nats-server {bus.nats_server_version or 'of unknown version'} this CPC's leaf must be allowed to "
                f"publish its cpcExports unprefixed (docs/nats-server-versions.md), so it could publish "
                f"{leak.witness!r} on the CSC and CPC {leak.target!r} would receive it. Fix: make the two lists "
                f"disjoint, or run nats-server {versions.NEWEST} on this CPC",
            )
        )
    return found


def stack_name(reference: str) -> str:
    """`organization/dsx-bus/cpc-a` -> `cpc-a` (a DIY-backend stack reference, or a bare stack name)."""
    return reference.rsplit("/", 1)[-1]
