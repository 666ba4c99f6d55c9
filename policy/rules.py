"""The dsx-bus CrossGuard policies: the silent failures of a DSX Event Bus deployment, found in `pulumi preview`.

Each policy reads Kubernetes objects (or chart values, or dsx-bus component outputs) into plain values and asks
`dsxbus` the same questions the config model asks, so a stack that does not use dsx-bus's components (or bypasses
its config model) is held to the same rules. Importable as `policy.rules` (tests, from the repository root) and as
`rules` (the pack's `__main__.py`, which runs with this directory first on sys.path): no relative imports here.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import yaml
from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError

from dsxbus import crosslayer, deployed, hostnames, images, naming, topology
from dsxbus.config import CrossLayer
from dsxbus.crosslayer import CrossLayerLists, Finding

PACK_NAME = "dsx-bus"
PACK_DESCRIPTION = (
    "DSX Event Bus misconfigurations that nats-server, Envoy or the auth-callout only reveal at run time: "
    "overlapping cross-layer lists, mTLS name mismatches, OAuth2 without JWKS, unadmitted or over-privileged "
    "CPC leafs, and production hygiene."
)
CPC_COMPONENT = "dsx-bus:cpc:CpcEventBus"
CSC_COMPONENT = "dsx-bus:csc:CscEventBus"
PERMISSIONS_FILE = "permissions.json"
AUTH_CALLOUT_CONFIG_FILE = "config.yaml"
NATS_CONF_FILE = "nats.conf"
ALL_STACKS = "*"


# ---- reading resources -------------------------------------------------------------------------------------------


def _plain(value: object) -> Any:
    """A proxied property as plain dicts and lists; raises UnknownValueError at the first value unknown in preview."""
    if isinstance(value, Mapping):
        return {str(key): _plain(value[key]) for key in value}
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [_plain(item) for item in value]
    return value


def _get(props: Mapping[str, Any], *path: str) -> Any:
    """props[a][b]...: None where a level is missing or not an object."""
    value: Any = props
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return _plain(value)


def _strings(value: object) -> list[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


@dataclass(frozen=True)
class _Object:
    """A Kubernetes object (or chart, or component) as a policy sees it."""

    type: str
    name: str
    """The Pulumi resource name."""
    urn: str
    props: Mapping[str, Any]

    @property
    def kind(self) -> str:
        return self.type.rsplit(":", 1)[-1]

    @property
    def object_name(self) -> str:
        """metadata.name, a chart's release name, else the Pulumi name."""
        given = _get(self.props, "metadata", "name")
        if not given and self.type.startswith("kubernetes:helm.sh/"):
            given = _get(self.props, "name")
        return given if isinstance(given, str) and given else self.name

    @property
    def namespace(self) -> str:
        given = _get(self.props, "metadata", "namespace")
        return given if isinstance(given, str) else ""

    @property
    def label(self) -> str:
        """How messages name it: `TLSRoute nats-mqtt-mtls` (Pulumi name in brackets when it differs)."""
        shown = self.object_name
        return f"{self.kind} {shown}" + (f" ({self.name})" if self.name != shown else "")

    def is_k8s(self, kind: str) -> bool:
        return self.type.startswith("kubernetes:") and self.type.endswith(f":{kind}")

    def file(self, key: str) -> str | None:
        """A ConfigMap's data[key] (None if absent or not a ConfigMap)."""
        if not self.is_k8s("ConfigMap"):
            return None
        value = _get(self.props, "data", key)
        return value if isinstance(value, str) else None


def _same_namespace(a: _Object, b: _Object) -> bool:
    # An object without a namespace lands in the provider's default one: assume it is the same.
    return not a.namespace or not b.namespace or a.namespace == b.namespace


def _resource(args: ResourceValidationArgs) -> _Object:
    return _Object(args.resource_type, args.name, args.urn, args.props)


def _stack(args: StackValidationArgs) -> list[_Object]:
    return [_Object(r.resource_type, r.name, r.urn, r.props) for r in args.resources]


def _config(args: ResourceValidationArgs | StackValidationArgs) -> Mapping[str, Any]:
    return args.get_config() or {}


class _Later:
    """What a stack policy cannot read yet (unknown in preview): the rest is checked, this is reported at the end.

    Raising UnknownValueError makes the analyzer report an advisory "can't run policy ... during preview" with
    this message, after any violation already reported from the values that are known.
    """

    def __init__(self) -> None:
        self.unknown: list[str] = []

    @contextmanager
    def reading(self, what: str) -> Iterator[None]:
        try:
            yield
        except UnknownValueError as exc:
            self.unknown.append(f"{what}: {exc.message}")

    def settle(self) -> None:
        if self.unknown:
            error = UnknownValueError(UNKNOWN_STRING_VALUE, [])
            error.message = (
                "cannot check yet, "
                + "; ".join(self.unknown)
                + ". It is checked when the values are known (pulumi up)."
            )
            raise error


def _current_stack() -> str:
    # The engine starts every policy pack with the stack's name in PULUMI_STACK.
    return os.environ.get("PULUMI_STACK", "")


def _for_this_stack(by_stack: object) -> list[str] | None:
    """A policy config value keyed by stack name (`*` for every stack): this stack's list, None if not given."""
    if not isinstance(by_stack, Mapping):
        return None
    chosen: list[str] | None = None
    for key in (ALL_STACKS, _current_stack()):
        value = by_stack.get(key)
        if isinstance(value, Sequence) and not isinstance(value, str):
            chosen = [*(chosen or []), *(str(item) for item in value)]
    return chosen


# ---- 1. cross-layer lists ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _ListsFound:
    """Cross-layer lists where a stack expresses them, and what crosslayer.check says of them."""

    resource: _Object
    where: str
    lists: CrossLayerLists
    findings: list[Finding]


def _lists_text(lists: CrossLayerLists) -> str:
    return ", ".join(f"{name} {[e.pattern for e in lists.entries(name)]}" for name in crosslayer.LISTS)


def _finding_message(found: _ListsFound, finding: Finding) -> str:
    return f"{found.where}: {finding.entry} {finding.describe()} Lists: {_lists_text(found.lists)}."


def _is_chart(resource: _Object) -> bool:
    return resource.type.startswith("kubernetes:helm.sh/") and resource.kind in ("Chart", "Release")


@dataclass(frozen=True)
class _NatsConfig:
    """The NATS server config a nats chart or Helm Release deploys (values.config.merge) or a rendered nats.conf."""

    where: str
    tree: dict[str, Any]
    chart: dict[str, Any] | None
    """The chart's own `config` values (cluster, jetstream switches) beside the merge; None for nats.conf."""


def _nats_config(resource: _Object) -> _NatsConfig | None:
    if _is_chart(resource):
        config = _get(resource.props, "values", "config")
        merge = config.get("merge") if isinstance(config, dict) else None
        if isinstance(merge, dict):
            return _NatsConfig(f"{resource.label} values.config.merge", merge, config)
        return None
    text = resource.file(NATS_CONF_FILE)
    tree = deployed.chart_nats_conf(text) if text is not None else None
    return _NatsConfig(f"{resource.label} {NATS_CONF_FILE}", tree, None) if tree is not None else None


def _deployed_accounts(resource: _Object) -> list[tuple[str, Mapping[str, object]]]:
    """(where, accounts) of the NATS config a chart, Release or rendered nats.conf ConfigMap deploys."""
    config = _nats_config(resource)
    accounts = config.tree.get("accounts") if config is not None else None
    return [(f"{config.where}.accounts", accounts)] if config is not None and isinstance(accounts, dict) else []


def _lists_deployed_by(resource: _Object) -> list[_ListsFound]:
    found = []
    for where, accounts in _deployed_accounts(resource):
        layout = deployed.cross_layer_of_accounts(accounts)
        if layout is None:
            continue  # not a CPC: the CSC's accounts carry no cross-layer imports
        cpc = f", CPC {layout.cluster_id!r}" if layout.cluster_id else ""
        found.append(_ListsFound(resource, where + cpc, layout.lists, crosslayer.check(layout.lists)))
    return found


def _lists_of(value: object) -> CrossLayerLists | None:
    if not isinstance(value, dict):
        return None
    csc, prefixed, cpc = (tuple(_strings(value.get(name))) for name in crosslayer.LISTS)
    return CrossLayerLists(csc, prefixed, cpc)


def _lists_exported_by(resource: _Object) -> list[_ListsFound]:
    """A dsx-bus CPC's effective lists (its `crossLayer` output) and the CSC's fleet defaults every CPC inherits."""
    if resource.type == CPC_COMPONENT:
        lists = _lists_of(_get(resource.props, "crossLayer"))
        cluster_id = _get(resource.props, "clusterId")
        where = f"{resource.type} {resource.name} output crossLayer (CPC {cluster_id!r})"
    elif resource.type == CSC_COMPONENT:
        lists = _lists_of(_get(resource.props, "fleetDefaults", "crossLayer"))
        where = (
            f"{resource.type} {resource.name} output fleetDefaults.crossLayer (inherited by every CPC that sets none)"
        )
    else:
        return []
    return [] if lists is None else [_ListsFound(resource, where, lists, crosslayer.check(lists))]


def _validate_deployed_lists(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    for found in _lists_deployed_by(_resource(args)):
        for finding in found.findings:
            if finding.fatal:
                report_violation(_finding_message(found, finding), None)


def _validate_exported_lists(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    later = _Later()
    for resource in _stack(args):
        with later.reading(f"{resource.type} {resource.name}"):
            for found in _lists_exported_by(resource):
                for finding in found.findings:
                    if finding.fatal:
                        report_violation(_finding_message(found, finding), resource.urn)
    later.settle()


def _validate_double_routes(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    later = _Later()
    for resource in _stack(args):
        with later.reading(resource.label):
            for found in [*_lists_deployed_by(resource), *_lists_exported_by(resource)]:
                for finding in found.findings:
                    if not finding.fatal:
                        report_violation(_finding_message(found, finding), resource.urn)
    later.settle()


_LISTS_REMEDIATION = (
    "Change the lists where they are set (dsx-bus:eventBus.crossLayer of the CPC, or of the CSC for inherited fleet "
    "defaults; the NATS account imports if you write them yourself) so that no subject matches entries of both "
    "lists named in the message; `dsx-bus validate` shows every problem at once."
)

CROSS_LAYER_LISTS_DISJOINT = ResourceValidationPolicy(
    name="cross-layer-lists-disjoint",
    display_name="Deployed cross-layer lists do not overlap",
    description=(
        "The cross-layer imports a CPC's NATS accounts deploy (chart values, Helm Release values, or a rendered "
        "nats.conf) follow the measured rule: no wildcard overlap between cscPrefixedExports or cscExports and "
        "cpcExports, no overlap within a list, no '*' in cscPrefixedExports, nothing in cpc.>, csc2cpc.> or $ "
        "subjects. Otherwise nats-server refuses some or all config loads, or messages are duplicated or lost."
    ),
    validate=_validate_deployed_lists,
    enforcement_level=EnforcementLevel.MANDATORY,
    remediation_steps=_LISTS_REMEDIATION,
)

CROSS_LAYER_EXPORTS_DISJOINT = StackValidationPolicy(
    name="cross-layer-exports-disjoint",
    display_name="Cross-layer lists a stack exports do not overlap",
    description=(
        "The cross-layer lists a dsx-bus CPC exports (crossLayer, from which the CSC derives its leaf permissions) "
        "and the CSC's fleet defaults (which every CPC without its own lists inherits) pass the same measured rule "
        "as the deployed accounts."
    ),
    validate=_validate_exported_lists,
    enforcement_level=EnforcementLevel.MANDATORY,
    remediation_steps=_LISTS_REMEDIATION,
)

CROSS_LAYER_DOUBLE_ROUTE = StackValidationPolicy(
    name="cross-layer-double-route",
    display_name="A subject crosses both as broadcast and as command",
    description=(
        "cscExports and cscPrefixedExports overlap: harmless for NATS (measured: no loops, no duplicates), but a "
        "CPC receives such a subject both as a broadcast and, when addressed to it, as a prefixed command."
    ),
    validate=_validate_double_routes,
    enforcement_level=EnforcementLevel.ADVISORY,
    remediation_steps="Make sure both routes are intended; narrow one of the two patterns if not.",
)


# ---- 2. mTLS names ------------------------------------------------------------------------------------------------


def _hostnames_of(route: _Object) -> list[str]:
    return _strings(_get(route.props, "spec", "hostnames"))


def _validate_tlsroute_hostnames(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    route = _resource(args)
    if not route.is_k8s("TLSRoute"):
        return
    for index, host in enumerate(_hostnames_of(route)):
        if hostnames.is_ip_literal(host):
            report_violation(
                f"{route.label}: spec.hostnames[{index}] = {host!r} is an IP address. TLS clients send no SNI for an "
                "IP address, so the gateway can never match this route (and Gateway API forbids IP hostnames). "
                "Fix: point a DNS name at the gateway's address and use it here, in the server certificate and in "
                "the clients' broker URL.",
                None,
            )


@dataclass(frozen=True)
class _ServerNames:
    sans: list[str]
    source: str


def _server_certificate(route: _Object, certificates: list[_Object], secret: str) -> _ServerNames | None:
    """The SANs of the server certificate behind a passthrough route: cert-manager Certificates of its Secret."""
    chosen = [c for c in certificates if _same_namespace(route, c) and _get(c.props, "spec", "secretName") == secret]
    if not chosen:
        return None
    sans = [
        *(s for c in chosen for s in _strings(_get(c.props, "spec", "dnsNames"))),
        *(s for c in chosen for s in _strings(_get(c.props, "spec", "ipAddresses"))),
    ]
    return _ServerNames(sans, " and ".join(c.label for c in chosen))


def _validate_mtls_names(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    config = _config(args)
    secret = str(config.get("serverCertSecretName") or naming.MTLS_SERVER_TLS)
    declared = _for_this_stack(config.get("serverCertSans"))
    client_urls = _for_this_stack(config.get("clientUrls")) or []
    resources = _stack(args)
    later = _Later()
    certificates = [r for r in resources if r.is_k8s("Certificate") and "cert-manager.io" in r.type]
    routed: list[str] = []
    for route in (r for r in resources if r.is_k8s("TLSRoute")):
        with later.reading(route.label):
            hosts = [h for h in _hostnames_of(route) if not hostnames.is_ip_literal(h)]  # IPs: their own policy
            routed += hosts
            names = _server_certificate(route, certificates, secret)
            if names is None and declared is not None:
                names = _ServerNames(declared, f"Secret {secret} (SANs declared in the policy config)")
            if names is None:
                if hosts:
                    report_violation(
                        f"{route.label} routes {hosts} to a server whose certificate (Secret {secret}) this stack does "
                        "not create, so nothing shows its SANs agree with these names. Fix: declare the certificate's "
                        f"SANs in the policy config (mtls-names-agree.serverCertSans.{_current_stack() or '<stack>'}), "
                        "or let cert-manager issue it (mtls.certificateIssuer).",
                        route.urn,
                    )
                continue
            for host in hostnames.uncovered(hosts, names.sans):
                report_violation(
                    f"{route.label} routes {host!r}, but no SAN of the server certificate ({names.source}: "
                    f"{names.sans}) covers it (RFC 6125: a wildcard stands for exactly one leftmost label): clients "
                    f"dialling {host!r} reject the certificate and never connect. Fix: add {host!r} to the "
                    "certificate's SANs, or route only names it covers.",
                    route.urn,
                )
    if later.unknown:
        later.settle()  # a route not known yet: checking client URLs against the others would mislead
    all_sans: list[str] | None = declared
    with later.reading("the server certificates"):
        for certificate in certificates:
            if _get(certificate.props, "spec", "secretName") == secret:
                all_sans = [
                    *(all_sans or []),
                    *_strings(_get(certificate.props, "spec", "dnsNames")),
                    *_strings(_get(certificate.props, "spec", "ipAddresses")),
                ]
    for url in client_urls:
        try:
            host = hostnames.host_of_url(url)
        except ValueError:
            report_violation(
                f"client URL {url!r} (policy config clientUrls) has no host: write it as ssl://<name>:8883.", None
            )
            continue
        if routed and not hostnames.sends_sni(host):
            report_violation(
                f"client URL {url!r} names the IP address {host!r}. TLS clients send no SNI for an IP address, so "
                f"the gateway cannot match it to the TLSRoute hostnames {routed} and resets the connection before "
                "NATS sees it. Fix: give clients a DNS name from the route's hostnames.",
                None,
            )
            continue
        if routed and hostnames.uncovered([host], routed):
            report_violation(
                f"client URL {url!r}: {host!r} is not among the TLSRoute hostnames {routed}, so the gateway resets "
                "the connection before NATS sees it. Fix: use one of those names in the URL, or add it to the route "
                "and the certificate.",
                None,
            )
        if all_sans is not None and hostnames.uncovered([host], all_sans):
            report_violation(
                f"client URL {url!r}: no SAN of the server certificate {all_sans} covers {host!r}, so the client "
                "rejects the certificate (hostname mismatch). Fix: add the name to the certificate, or use one it has.",
                None,
            )
    later.settle()


TLSROUTE_HOSTNAMES_ARE_DNS_NAMES = ResourceValidationPolicy(
    name="tlsroute-hostnames-are-dns-names",
    display_name="TLSRoute hostnames are DNS names",
    description="TLSRoute hostnames are DNS names that clients send as SNI; an IP address is never sent as SNI.",
    validate=_validate_tlsroute_hostnames,
    enforcement_level=EnforcementLevel.MANDATORY,
    remediation_steps="Point a DNS name at the gateway; use it in spec.hostnames, the certificate and client URLs.",
)

MTLS_NAMES_AGREE = StackValidationPolicy(
    name="mtls-names-agree",
    display_name="mTLS route, certificate and client URLs name the same hosts",
    description=(
        "Every TLSRoute hostname is covered by a SAN of the server certificate (cert-manager Certificate dnsNames/"
        "ipAddresses, or SANs declared in the policy config), and every client URL in the policy config names a "
        "routed host the certificate covers. Otherwise Envoy resets the connection or the client rejects the "
        "certificate, silently for NATS."
    ),
    validate=_validate_mtls_names,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=PolicyConfigSchema(
        properties={
            "serverCertSecretName": {
                "type": "string",
                "default": naming.MTLS_SERVER_TLS,
                "description": "The Secret holding the passthrough server's certificate (tls.crt).",
            },
            "serverCertSans": {
                "type": "object",
                "additionalProperties": {"type": "array", "items": {"type": "string"}},
                "default": {},
                "description": "Stack name (or '*') -> SANs of an operator-provided server certificate Secret.",
            },
            "clientUrls": {
                "type": "object",
                "additionalProperties": {"type": "array", "items": {"type": "string"}},
                "default": {},
                "description": "Stack name (or '*') -> broker URLs clients are given, e.g. ssl://mqtt.example.com:8883.",
            },
        }
    ),
    remediation_steps=(
        "Use one DNS name (or a wildcard covering it) in the TLSRoute hostnames, the certificate SANs and the client "
        "URLs; with dsx-bus set mtls.hostnames, which feeds both the route and the Certificate."
    ),
)


# ---- Kubernetes plumbing shared by the auth-callout policies -----------------------------------------------------


def _secret_value(secret: _Object, key: str) -> str | None:
    """A Secret's value for `key` (stringData, else base64 data); None if absent or not text."""
    value = _get(secret.props, "stringData", key)
    if isinstance(value, str):
        return value
    encoded = _get(secret.props, "data", key)
    if not isinstance(encoded, str):
        return None
    try:
        return base64.b64decode(encoded, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None


@dataclass(frozen=True)
class _Env:
    value: str | None
    """The value, or None when it comes from an object outside this stack (set, but not readable here)."""
    source: str


def _pod_spec(workload: _Object) -> dict[str, Any]:
    spec = _get(workload.props, "spec", "template", "spec")
    return spec if isinstance(spec, dict) else {}


def _containers(pod: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        c
        for key in ("initContainers", "containers", "ephemeralContainers")
        for c in (pod.get(key) or [])
        if isinstance(c, dict)
    ]


class _Environment:
    """The env vars of a set of workloads; each value read (through this stack's Secrets and ConfigMaps) only when
    asked for, so an unrelated value that is unknown in preview (a generated seed) never blocks a check."""

    def __init__(self, workloads: list[_Object], resources: list[_Object]) -> None:
        self._resources = resources
        self._items: dict[str, tuple[_Object, dict[str, Any]]] = {}
        for workload in workloads:
            for container in _containers(_pod_spec(workload)):
                for item in container.get("env") or []:
                    if isinstance(item, dict) and isinstance(item.get("name"), str):
                        self._items[item["name"]] = (workload, item)

    def get(self, name: str) -> _Env | None:
        if name not in self._items:
            return None
        workload, item = self._items[name]
        ref = item.get("valueFrom") or {}
        if not ref:
            return _Env(str(item.get("value") or ""), "a literal value")
        for kind, field in (("Secret", "secretKeyRef"), ("ConfigMap", "configMapKeyRef")):
            selector = ref.get(field)
            if not isinstance(selector, dict):
                continue
            holder_name, key = selector.get("name"), str(selector.get("key"))
            holder = next(
                (
                    r
                    for r in self._resources
                    if r.is_k8s(kind) and r.object_name == holder_name and _same_namespace(r, workload)
                ),
                None,
            )
            if holder is None:
                return _Env(None, f"{kind} {holder_name} key {key}")
            value = _secret_value(holder, key) if kind == "Secret" else _get(holder.props, "data", key)
            return _Env(value if isinstance(value, str) else "", f"{kind} {holder.object_name} key {key}")
        return _Env(None, "the pod itself")


def _mounts(workload: _Object, config_map: _Object) -> bool:
    volumes = _pod_spec(workload).get("volumes") or []
    return _same_namespace(workload, config_map) and any(
        isinstance(v, dict) and (v.get("configMap") or {}).get("name") == config_map.object_name for v in volumes
    )


@dataclass(frozen=True)
class _AuthCallout:
    """One auth-callout: its permissions.json ConfigMap, the Deployments mounting it, its config.yaml ConfigMaps."""

    permissions: _Object
    document: dict[str, Any]
    deployments: list[_Object]
    configs: list[_Object]


def _auth_callouts(resources: list[_Object], later: _Later) -> list[_AuthCallout]:
    found = []
    for config_map in resources:
        with later.reading(config_map.label):
            text = config_map.file(PERMISSIONS_FILE)
            if text is None:
                continue
            try:
                document = json.loads(text)
            except ValueError:
                continue  # not ours to judge: the auth-callout reports an unreadable file at start
            if not isinstance(document, dict):
                continue
            deployments = [r for r in resources if r.is_k8s("Deployment") and _mounts(r, config_map)]
            configs = [
                r
                for r in resources
                if r.file(AUTH_CALLOUT_CONFIG_FILE) is not None
                and (any(_mounts(d, r) for d in deployments) or (not deployments and _same_namespace(r, config_map)))
            ]
            found.append(_AuthCallout(config_map, document, deployments, configs))
    return found


def _nkey_entries(document: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    nkey = document.get("nkey")
    return {k: v for k, v in nkey.items() if isinstance(v, dict)} if isinstance(nkey, dict) else {}


# ---- 3. OAuth2 needs JWKS -----------------------------------------------------------------------------------------


def _validate_oauth2_jwks(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    resources = _stack(args)
    later = _Later()
    for callout in _auth_callouts(resources, later):
        with later.reading(f"the auth-callout of {callout.permissions.label}"):
            oauth2 = callout.document.get("oauth2")
            clients = sorted(oauth2) if isinstance(oauth2, dict) else []
            environment = _Environment(callout.deployments, resources)
            env: dict[str, str] = {}
            for name in (n for names in deployed.JWKS_ENV_ALIASES.values() for n in names):
                setting = environment.get(name)
                if setting is not None:
                    env[name] = setting.value if setting.value is not None else f"from {setting.source}"
            configs = [yaml.safe_load(c.file(AUTH_CALLOUT_CONFIG_FILE) or "") for c in callout.configs] or [None]
            where = " and ".join(
                [c.label + " config.yaml" for c in callout.configs] + [d.label + " env" for d in callout.deployments]
            )
            for config in configs:
                sources = deployed.jwks_sources(config, env)
                missing = [key for key, source in sources.items() if source is None]
                if sources["url"] and missing:
                    report_violation(
                        f"{where or 'the auth-callout'}: jwks.url is set ({sources['url']}) but jwks."
                        f"{' and jwks.'.join(missing)} is not: the auth-callout exits at start (Fatal) and "
                        "crash-loops, so no client of this cluster can sign in. Fix: set url, issuer and audience "
                        "together (dsx-bus: auth.jwks), or none.",
                        callout.permissions.urn,
                    )
                elif clients and not sources["url"]:
                    report_violation(
                        f"{callout.permissions.label} grants OAuth2 clients {clients}, but no jwks url, issuer and "
                        f"audience is set (in {where or 'any auth-callout config'}): the auth-callout has "
                        "no OAuth2 authenticator, so these clients are rejected (or land in noauth when they sign in "
                        "as 'oauthtoken'). Fix: set auth.jwks url, issuer and audience on this cluster (a dsx-bus CPC "
                        "inherits the CSC's), or remove the oauth2 entries.",
                        callout.permissions.urn,
                    )
    later.settle()


OAUTH2_NEEDS_JWKS = StackValidationPolicy(
    name="oauth2-needs-jwks",
    display_name="OAuth2 clients come with a complete JWKS block",
    description=(
        "A cluster whose permissions.json has OAuth2 clients runs an auth-callout with jwks url, issuer and audience; "
        "and a jwks url never comes without issuer and audience (the auth-callout exits at start)."
    ),
    validate=_validate_oauth2_jwks,
    enforcement_level=EnforcementLevel.MANDATORY,
    remediation_steps=(
        "Set auth.jwks.url, .issuer and .audience (dsx-bus stack config, or the auth-callout's config.yaml jwks block "
        "/ JWKS_* env), or remove the oauth2 permissions."
    ),
)


# ---- 4. CPC leafs admitted on the CSC -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _LeafIssue:
    message: str
    urn: str
    pending: bool


def _leaf_issues(resources: list[_Object], later: _Later) -> list[_LeafIssue]:
    issues: list[_LeafIssue] = []
    listed: dict[str, str] = {}
    pending: set[str] = set()
    for component in (r for r in resources if r.type == CSC_COMPONENT):
        with later.reading(f"{component.type} {component.name}"):
            cpcs = _get(component.props, "cpcs")
            listed |= {str(k): str(v) for k, v in cpcs.items()} if isinstance(cpcs, dict) else {}
            pending |= set(_strings(_get(component.props, "pendingCpcs")))
    for callout in _auth_callouts(resources, later):
        cm = callout.permissions
        with later.reading(f"{cm.label} and the leaf key Secrets beside it"):
            entries = {
                owner: (name, entry)
                for name, entry in _nkey_entries(callout.document).items()
                if (owner := deployed.leaf_entry_name(name)) is not None
            }
            keys: dict[deployed.LeafEntryName, tuple[_Object, str]] = {}
            for secret in (r for r in resources if r.is_k8s("Secret") and _same_namespace(r, cm)):
                owner = deployed.leaf_secret_name(secret.object_name)
                if owner is not None:
                    keys[owner] = (secret, _secret_value(secret, "pubkey") or "")
            env = _Environment(callout.deployments, resources)
            cluster_ids = sorted({o.cluster_id for o in entries} | {o.cluster_id for o in keys} | set(listed))
            if not entries and not keys and not (listed and callout.deployments):
                continue  # not a CSC
            for cluster_id in cluster_ids:
                issues += _leaf_issues_of(cluster_id, cm, entries, keys, env, listed, pending)
    return issues


def _leaf_issues_of(
    cluster_id: str,
    cm: _Object,
    entries: Mapping[deployed.LeafEntryName, tuple[str, dict[str, Any]]],
    keys: Mapping[deployed.LeafEntryName, tuple[_Object, str]],
    env: _Environment,
    listed: Mapping[str, str],
    pending: set[str],
) -> list[_LeafIssue]:
    mine = {o for o in [*entries, *keys] if o.cluster_id == cluster_id}
    admitted = [o for o in mine if o in entries]
    stack = f" (stack {listed[cluster_id]})" if cluster_id in listed else ""
    refused = (
        f"the auth-callout refuses the leaf of CPC {cluster_id!r} (the CPC logs 'Authorization Violation' and retries "
        "every second), so none of its traffic crosses"
    )
    if not admitted:
        keyed = [keys[o] for o in mine if o in keys and keys[o][1]]
        is_pending = cluster_id in pending or (not keyed and cluster_id not in listed)
        if is_pending:
            return [
                _LeafIssue(
                    f"CPC {cluster_id!r}{stack} has not been deployed yet: {cm.label} has no nkey entry "
                    f"{naming.leaf_permission(cluster_id)}, so its leaf connections are refused until it is. Fix: run "
                    "`pulumi up` on that CPC's stack, then on this one again.",
                    cm.urn,
                    pending=True,
                )
            ]
        why = f"Secret {keyed[0][0].object_name} holds its leaf key" if keyed else f"it is listed in cpcs{stack}"
        return [
            _LeafIssue(
                f"CPC {cluster_id!r}: {why}, but {cm.label} has no nkey entry {naming.leaf_permission(cluster_id)}: "
                f"{refused}. Fix: run `pulumi up` on this stack after the CPC's, or add the entry with the CPC's "
                "leaf public key (U...).",
                cm.urn,
                pending=False,
            )
        ]
    issues = []
    for owner in sorted(mine, key=lambda o: o.account_token or ""):
        if owner not in entries:
            secret, value = keys[owner]
            if value:
                issues.append(
                    _LeafIssue(
                        f"Secret {secret.object_name} holds the leaf key of CPC {cluster_id!r} for account token "
                        f"{owner.account_token!r}, but {cm.label} has no matching nkey entry: that leaf is refused. "
                        "Fix: add the entry, or remove the account from the CPC's extraAccounts.",
                        cm.urn,
                        pending=False,
                    )
                )
            continue
        name, entry = entries[owner]
        public_key = entry.get("public_key")
        shown = f"{cm.label}: nkey entry {name} public_key {public_key!r}"
        variable = deployed.env_reference(public_key) if isinstance(public_key, str) else None
        problem: str | None
        if not isinstance(public_key, str):
            problem, where = "is missing", shown
        elif variable is None:
            problem, where = deployed.leaf_key_problem(public_key), shown
        elif (setting := env.get(variable)) is None:
            problem = "is not set in the auth-callout Deployment, so it expands to '' and matches no key"
            where = f"{shown}: env {variable}"
        elif setting.value is None:
            continue  # comes from outside this stack: not ours to read
        else:
            problem = deployed.leaf_key_problem(setting.value)
            where = f"{shown}: env {variable} from {setting.source}"
        if problem is not None:
            issues.append(
                _LeafIssue(
                    f"{where} {problem}: {refused}. Fix: set it to the CPC's leaf user public key (U..., its stack "
                    "output leafPublicKeys), e.g. by running `pulumi up` on this stack after the CPC's.",
                    cm.urn,
                    pending=False,
                )
            )
    return issues


def _validate_leaf_keys(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    later = _Later()
    for issue in _leaf_issues(_stack(args), later):
        if not issue.pending:
            report_violation(issue.message, issue.urn)
    later.settle()


def _validate_pending_cpcs(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    later = _Later()
    for issue in _leaf_issues(_stack(args), later):
        if issue.pending:
            report_violation(issue.message, issue.urn)
    later.settle()


LEAF_KEYS_ADMITTED = StackValidationPolicy(
    name="leaf-keys-admitted",
    display_name="Every deployed CPC's leaf is admitted on the CSC",
    description=(
        "On the CSC, every CPC with a leaf key (or listed and deployed) has a permissions.json nkey entry whose "
        "public key resolves to a valid user NKey; an empty, invalid or unset key refuses the CPC's leaf."
    ),
    validate=_validate_leaf_keys,
    enforcement_level=EnforcementLevel.MANDATORY,
    remediation_steps=(
        "Deploy the CPC stack, then `pulumi up` the CSC again so its leaf public key fills Secret "
        "nats-leaf-cpc-<id> and permissions.json gets leaf-cpc-<id>."
    ),
)

CPCS_PENDING = StackValidationPolicy(
    name="cpcs-pending",
    display_name="CPCs listed on the CSC but not deployed yet",
    description="A CPC the CSC lists has not been deployed yet: its leaf is refused until it is (normal at bootstrap).",
    validate=_validate_pending_cpcs,
    enforcement_level=EnforcementLevel.ADVISORY,
    remediation_steps="Run `pulumi up` on the CPC's stack, then on the CSC's stack again.",
)


# ---- 5. leaf least privilege --------------------------------------------------------------------------------------


def _validate_leaf_scope(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    cm = _resource(args)
    text = cm.file(PERMISSIONS_FILE)
    if text is None:
        return
    try:
        document = json.loads(text)
    except ValueError:
        return
    if not isinstance(document, dict):
        return
    for name, entry in _nkey_entries(document).items():
        owner = deployed.leaf_entry_name(name)
        if owner is None or owner.account_token is not None:
            continue  # extra-account leafs share one fleet-wide space by design
        cluster_id = owner.cluster_id
        least = topology.leaf_permissions(cluster_id, CrossLayer())
        expected = {
            "pub": ", ".join(least.pub.allow if least.pub else ()),
            "sub": ", ".join(("its cscExports", *(least.sub.allow if least.sub else ()))),
        }
        for reach in deployed.leaf_reach(cluster_id, entry.get("permissions")):
            verb = "publish to" if reach.direction == "pub" else "subscribe to"
            how = (
                f"has no {reach.direction}.allow list, so it may {verb} any subject of its account"
                if reach.pattern is None
                else f"allows {reach.direction} {reach.pattern!r}"
            )
            report_violation(
                f"{cm.label}: nkey entry {name} {how}: the leaf key of CPC {cluster_id!r} can {verb} "
                f"{reach.witness!r}, a subject of another CPC (measured upstream: CPC 1's leaf read "
                "cpc.2.sensor.temp and injected cpc.2.command.restart, FINDINGS item 4). Fix: allow "
                f"{reach.direction} only "
                f"{expected[reach.direction]}.",
                None,
            )


LEAF_LEAST_PRIVILEGE = ResourceValidationPolicy(
    name="leaf-least-privilege",
    display_name="Each CPC's leaf is confined to its own CPC",
    description=(
        "The CSC's leaf-cpc-<id> permission entries allow publish and subscribe only within CPC <id>'s space: never "
        "another CPC's cpc.<other>.>, csc2cpc.<other>.> or $JS.CPC-<other>.API.> (the allow lists decide; deny "
        "lists are not credited)."
    ),
    validate=_validate_leaf_scope,
    enforcement_level=EnforcementLevel.MANDATORY,
    remediation_steps=(
        "Give leaf-cpc-<id> pub allow cpc.<id>.>, $JS.CSC.API.>, $JS.FC.>, _INBOX.>, _R_.> and sub allow its "
        "cscExports, cpc.<id>.>, csc2cpc.<id>.>, $JS.FC.>, _INBOX.>, _R_.>, $JS.CPC-<id>.API.> (as dsx-bus does)."
    ),
)


# ---- 6. production hygiene ----------------------------------------------------------------------------------------


def _validate_noauth(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    cm = _resource(args)
    text = cm.file(PERMISSIONS_FILE)
    if text is None:
        return
    try:
        document = json.loads(text)
    except ValueError:
        return
    noauth = document.get("noauth") if isinstance(document, dict) else None
    if not isinstance(noauth, dict):
        return
    permissions = noauth.get("permissions")
    scope = f"with permissions {json.dumps(permissions, sort_keys=True)}" if permissions else "with no restriction"
    report_violation(
        f"{cm.label}: noauth is enabled: every client that brings no credentials lands in account "
        f"{noauth.get('account')!r} {scope}. The auth-callout cannot tell a leaf connection from a client, so a "
        "leaf without a key lands there too (FINDINGS item 4). Fix: remove auth.permissions.noauth for production, "
        "or narrow its permissions to what anonymous clients truly need.",
        None,
    )


def _jetstream_servers(config: _NatsConfig) -> int | None:
    """How many JetStream servers a NATS config runs on; None if it runs no JetStream."""
    chart = config.chart or {}
    switches = chart.get("jetstream")
    if "jetstream" not in config.tree and not (isinstance(switches, dict) and switches.get("enabled")):
        return None
    cluster = chart.get("cluster")
    if isinstance(cluster, dict) and cluster.get("enabled"):
        return int(cluster.get("replicas") or 3)  # the nats chart's default cluster size
    # A rendered config lists every server of its cluster as a route.
    block = config.tree.get("cluster")
    routes = block.get("routes") if isinstance(block, dict) else None
    return len(routes) if isinstance(routes, list) and routes else 1


def _validate_stream_replicas(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    resources = _stack(args)
    later = _Later()
    servers: list[tuple[_Object, int]] = []
    fix = "Fix: lower mqttStreams.replicas to at most {n}, or raise nats.replicas."
    for resource in resources:
        with later.reading(resource.label):
            config = _nats_config(resource)
            count = _jetstream_servers(config) if config is not None else None
            if config is None or count is None:
                continue
            servers.append((resource, count))
            mqtt = config.tree.get("mqtt")
            wanted = mqtt.get("stream_replicas") if isinstance(mqtt, dict) else None
            if isinstance(wanted, int | float) and wanted > count:
                report_violation(
                    f"{config.where}: mqtt.stream_replicas = {int(wanted)} but it runs {count} JetStream server(s): "
                    "MQTT cannot create its streams and QoS 1 clients get no CONNACK. " + fix.format(n=count),
                    resource.urn,
                )
    for stream in (r for r in resources if r.is_k8s("Stream") and "jetstream.nats.io" in r.type):
        with later.reading(stream.label):
            replicas = _get(stream.props, "spec", "replicas")
            beside = [(r, n) for r, n in servers if _same_namespace(r, stream)]
            if not isinstance(replicas, int | float) or not beside:
                continue
            resource, count = max(beside, key=lambda pair: pair[1])
            if replicas > count:
                name = _get(stream.props, "spec", "name")
                report_violation(
                    f"{stream.label} ({name}): spec.replicas = {int(replicas)} but {resource.label} runs {count} "
                    "JetStream server(s): JetStream cannot place the stream, NACK keeps failing to create it, and MQTT "
                    "QoS 1 and retained messages have nowhere to go. " + fix.format(n=count),
                    stream.urn,
                )
    later.settle()


def _image_problems(value: object, path: str, floating: Sequence[str]) -> Iterator[tuple[str, str, str]]:
    """(where, reference, problem) for every unpinned image in chart values: `image` strings or {repository, tag}."""
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}"
            if key == "image" and isinstance(item, str):
                problem = images.pin_problem(item, floating)
                if problem:
                    yield where, item, problem
            elif key == "image" and isinstance(item, dict) and isinstance(item.get("repository"), str):
                tag = item.get("tag")
                # No tag: the chart's own default, pinned by the chart version.
                if isinstance(tag, str) and tag in floating:
                    reference = f"{item['repository']}:{tag}"
                    yield where, reference, images.pin_problem(reference, floating) or ""
            else:
                yield from _image_problems(item, where, floating)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _image_problems(item, f"{path}[{index}]", floating)


_WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod")


def _validate_images(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    resource = _resource(args)
    floating = _strings(_config(args).get("floatingTags")) or ["latest"]
    found: list[tuple[str, str, str]] = []
    if _is_chart(resource):
        found += _image_problems(_get(resource.props, "values"), "values", floating)
    elif any(resource.is_k8s(kind) for kind in _WORKLOADS):
        pod = {
            "Pod": _get(resource.props, "spec"),
            "CronJob": _get(resource.props, "spec", "jobTemplate", "spec", "template", "spec"),
        }.get(resource.kind, _pod_spec(resource))
        for container in _containers(pod if isinstance(pod, dict) else {}):
            reference = container.get("image")
            problem = images.pin_problem(reference, floating) if isinstance(reference, str) else None
            if problem and isinstance(reference, str):
                found.append((f"container {container.get('name')!r} image", reference, problem))
    for where, reference, problem in found:
        report_violation(
            f"{resource.label}: {where} {reference!r} {problem}: a restart or a new node can pull a different "
            "build than the one reviewed. Fix: pin a version tag (or a digest).",
            None,
        )


NOAUTH_DISABLED = ResourceValidationPolicy(
    name="noauth-disabled",
    display_name="No anonymous access in production",
    description="permissions.json has no noauth entry: credential-less clients (and key-less leafs) are refused.",
    validate=_validate_noauth,
    enforcement_level=EnforcementLevel.ADVISORY,
    remediation_steps="Remove auth.permissions.noauth, or narrow its permissions to what anonymous clients need.",
)

MQTT_STREAM_REPLICAS_FIT = StackValidationPolicy(
    name="mqtt-stream-replicas-fit",
    display_name="MQTT streams fit on the NATS servers",
    description="MQTT stream replicas (NACK Stream CRs, mqtt.stream_replicas) do not exceed the JetStream servers.",
    validate=_validate_stream_replicas,
    enforcement_level=EnforcementLevel.ADVISORY,
    remediation_steps="Lower mqttStreams.replicas to at most nats.replicas, or raise nats.replicas.",
)

IMAGES_PINNED = ResourceValidationPolicy(
    name="images-pinned",
    display_name="Images are pinned",
    description="Container images (workloads and chart values) name a version tag or digest, never a floating tag.",
    validate=_validate_images,
    enforcement_level=EnforcementLevel.ADVISORY,
    config_schema=PolicyConfigSchema(
        properties={
            "floatingTags": {
                "type": "array",
                "items": {"type": "string"},
                "default": ["latest"],
                "description": "Tags that move between releases and so do not pin an image.",
            }
        }
    ),
    remediation_steps="Use a version tag (nats:2.12.6-alpine) or a digest (@sha256:...).",
)


POLICIES: list[Policy] = [
    CROSS_LAYER_LISTS_DISJOINT,
    CROSS_LAYER_EXPORTS_DISJOINT,
    TLSROUTE_HOSTNAMES_ARE_DNS_NAMES,
    MTLS_NAMES_AGREE,
    OAUTH2_NEEDS_JWKS,
    LEAF_KEYS_ADMITTED,
    LEAF_LEAST_PRIVILEGE,
    CPCS_PENDING,
    CROSS_LAYER_DOUBLE_ROUTE,
    NOAUTH_DISABLED,
    MQTT_STREAM_REPLICAS_FIT,
    IMAGES_PINNED,
]
