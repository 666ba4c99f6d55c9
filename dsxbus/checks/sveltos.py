"""Project Sveltos on the bus (`sveltos`): the traps of research/sveltos/SPEC.md, caught before anything deploys."""

from __future__ import annotations

import re
from collections.abc import Sequence

from dsxbus import gotemplate, hostnames, re2, subjects
from dsxbus.checks.streams import NO_FILE_STORE
from dsxbus.config import EventBus, MtlsIdentity
from dsxbus.errors import Problem, key_path
from dsxbus.model import Permissions
from dsxbus.sveltos import agent, manifests
from dsxbus.sveltos.config import EventRule, MatchCriteria, StreamSpec, Sveltos, Trigger

_K8S_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_STREAM_NAME_BAD = re.compile(r"[\s.*>/\\]")
ROOT = ("sveltos",)


_Path = tuple[str | int, ...]


def problems(bus: EventBus) -> list[Problem]:
    """An enabled block's problems: what the agent subscribes to, the event rules, then the agent's place on the bus."""
    block = bus.sveltos
    if not block.enabled:
        return []
    streams = block.jetstream.streams if block.jetstream else ()
    found = _transport_problems(block)
    found += _stream_object_problems(streams)
    found += _event_rules_problems(block)
    found += _sign_in_problems(bus)
    found += _server_certificate_problems(bus)
    if block.jetstream is not None and block.jetstream.storage == "file" and bus.mqtt_streams.storage != "file":
        found.append(Problem(key_path(*ROOT, "jetstream", "storage"), "file", NO_FILE_STORE))
    identity = block.identity_for(bus.cluster_name)
    found += _common_name_problems(bus, identity)
    found += _operator_entry_problems(bus, identity)
    return found


def route_problems(bus: EventBus) -> list[Problem]:
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


# --- What the agent subscribes to. ---


def _transport_problems(block: Sveltos) -> list[Problem]:
    found: list[Problem] = []
    if block.nats is None and block.jetstream is None:
        found.append(
            Problem(
                key_path(*ROOT),
                "enabled",
                "set sveltos.nats.subjects (core NATS) and/or sveltos.jetstream.streams: the agent needs "
                "something to subscribe to",
            )
        )
    if block.nats is not None:
        found += _subject_list_problems((*ROOT, "nats", "subjects"), block.nats.subjects)
    for index, stream in enumerate(block.jetstream.streams if block.jetstream else ()):
        stream_path: _Path = (*ROOT, "jetstream", "streams", index)
        if not stream.name or _STREAM_NAME_BAD.search(stream.name):
            found.append(
                Problem(
                    key_path(*stream_path, "name"), stream.name, "a stream name has no spaces, '.', '*', '>' or slashes"
                )
            )
        found += _subject_list_problems((*stream_path, "subjects"), stream.subjects)
    return found


def _stream_object_problems(streams: Sequence[StreamSpec]) -> list[Problem]:
    found: list[Problem] = []
    seen: dict[str, str] = {}
    for index, stream in enumerate(streams):
        if not stream.name or _STREAM_NAME_BAD.search(stream.name):
            continue  # reported as a stream name already
        key = key_path(*ROOT, "jetstream", "streams", index, "name")
        token = manifests.stream_object_token(stream.name)
        if not token:
            found.append(
                Problem(
                    key, stream.name, "needs a letter or digit: it also names the NACK Stream object sveltos-<name>"
                )
            )
        elif token in seen:
            found.append(
                Problem(
                    key,
                    stream.name,
                    f"gives the NACK Stream object sveltos-{token}, as stream {seen[token]!r} does (the object name "
                    "is the stream name lower-cased, other characters as '-'): rename one",
                )
            )
        seen.setdefault(token, stream.name)
    return found


def _subject_list_problems(path: _Path, listed: Sequence[str]) -> list[Problem]:
    found = []
    if not listed:
        found.append(Problem(key_path(*path), [], "list at least one subject"))
    for index, subject in enumerate(listed):
        why = subjects.problem(subject)
        if why:
            found.append(Problem(key_path(*path, index), subject, f"not a NATS subject: {why}"))
    return found


# --- The event rules: an EventSource and its EventTrigger each. ---


def _event_rules_problems(block: Sveltos) -> list[Problem]:
    found: list[Problem] = []
    names: set[str] = set()
    for index, rule in enumerate(block.event_rules):
        path: _Path = (*ROOT, "eventRules", index)
        if rule.name in names:
            found.append(Problem(key_path(*path, "name"), rule.name, "two event rules with one name; rename one"))
        names.add(rule.name)
        found += _rule_problems(path, rule, block.subscription_strings())
    return found


def _rule_problems(path: _Path, rule: EventRule, subscriptions: Sequence[str]) -> list[Problem]:
    found: list[Problem] = []
    if not _K8S_NAME.fullmatch(rule.name):
        found.append(
            Problem(key_path(*path, "name"), rule.name, "not a Kubernetes name (lower-case letters, digits, '-', '.')")
        )
    found += _match_problems(path, rule.match, subscriptions)
    found += _selector_problems(path, rule.trigger)
    found += _action_problems(path, rule.trigger)
    found += [
        Problem(key_path(*path, "templates", name), name, "ConfigMap name and namespace must be Kubernetes names")
        for name, template in rule.templates.items()
        if not _K8S_NAME.fullmatch(name) or not _K8S_NAME.fullmatch(template.namespace)
    ]
    return found


def _match_problems(path: _Path, match: Sequence[MatchCriteria], subscriptions: Sequence[str]) -> list[Problem]:
    found: list[Problem] = []
    if not match:
        found.append(
            Problem(
                key_path(*path, "match"),
                [],
                "list at least one match criterion: the agent registers an EventSource for messaging only "
                "when it has messagingMatchCriteria",
            )
        )
    for index, criteria in enumerate(match):
        found += _pattern_problems((*path, "match", index), criteria)
        found += _subscription_match_problems((*path, "match", index), criteria, subscriptions)
    return found


def _pattern_problems(path: _Path, criteria: MatchCriteria) -> list[Problem]:
    found: list[Problem] = []
    for field, pattern in criteria.patterns().items():
        why = re2.problem(pattern)
        if why:
            found.append(
                Problem(
                    key_path(*path, field),
                    pattern,
                    f"not a Go regular expression ({why}): the agent logs it and this criterion never matches",
                )
            )
        elif re2.unanchored(pattern):
            found.append(
                Problem(
                    key_path(*path, field),
                    pattern,
                    f"matches anywhere in the value (Go MatchString is a substring match): write ^...$, "
                    f"e.g. {'^' + pattern.strip('^$') + '$'!r}, and escape dots",
                    warning=True,
                )
            )
    return found


def _subscription_match_problems(path: _Path, criteria: MatchCriteria, subscriptions: Sequence[str]) -> list[Problem]:
    subject = criteria.patterns().get("subject")
    if (
        subject
        and not re2.problem(subject)
        and subscriptions
        and not any(re2.search(subject, s) for s in subscriptions)
    ):
        return [
            Problem(
                key_path(*path, "subject"),
                subject,
                f"matches none of the agent's subscriptions {list(subscriptions)}: the agent matches this "
                "against the subscription string (e.g. 'command.user.>'), not the concrete message subject",
            )
        ]
    return []


def _selector_problems(path: _Path, trigger: Trigger) -> list[Problem]:
    selector = trigger.source_cluster_selector
    if selector is not None and not selector.empty:
        return []
    return [
        Problem(
            key_path(*path, "trigger", "sourceClusterSelector"),
            None if selector is None else {},
            "required, and an empty selector matches no cluster: give the labels of the clusters whose "
            "events this rule handles, e.g. {matchLabels: {env: production}}",
        )
    ]


def _action_problems(path: _Path, trigger: Trigger) -> list[Problem]:
    action = trigger.cloud_event_action
    if action is None:
        return []
    found: list[Problem] = []
    if not trigger.one_for_event:
        found.append(
            Problem(
                key_path(*path, "trigger", "oneForEvent"),
                False,
                "cloudEventAction is only evaluated with oneForEvent: true (one ClusterProfile per event); with "
                "false it is ignored and Delete never happens. Set oneForEvent: true or drop cloudEventAction",
            )
        )
    why = gotemplate.action_problem(action)
    if why:
        found.append(
            Problem(
                key_path(*path, "trigger", "cloudEventAction"),
                action,
                f"{why}. event-manager accepts exactly Create or Delete; anything else crashes it "
                "(nil-pointer panic) and the event is retried after every restart",
            )
        )
    return found


# --- The agent on the bus: its certificate, its identity, its permissions. ---


def _sign_in_problems(bus: EventBus) -> list[Problem]:
    mtls = bus.mtls
    if not mtls.enabled:
        return [
            Problem(
                key_path(*ROOT, "enabled"),
                True,
                "the agent signs in with a client certificate on the nats-mtls server; set mtls.enabled. (The "
                "agent cannot sign NKey nonces, and a token in its Secret would be an OAuth2 token that expires)",
            )
        ]
    if mtls.certificate_issuer is None and bus.sveltos.client_certificate_secret is None:
        return [
            Problem(
                key_path(*ROOT, "clientCertificateSecret"),
                None,
                "with mtls.serverCertSans (your own certificates) name a Secret in the bus namespace holding the "
                "agent's tls.crt, tls.key and ca.crt, signed by the CA nats-mtls trusts; or set "
                "mtls.certificateIssuer and dsx-bus requests the certificate from cert-manager",
            )
        ]
    return []


def _server_certificate_problems(bus: EventBus) -> list[Problem]:
    mtls = bus.mtls
    if not mtls.enabled or mtls.server_cert_sans is None:
        return []
    in_cluster = agent.in_cluster_hostnames(bus.namespace)[0]
    if not hostnames.uncovered([in_cluster], mtls.server_cert_sans):
        return []
    return [
        Problem(
            key_path("mtls", "serverCertSans"),
            list(mtls.server_cert_sans),
            f"Sveltos dials {agent.url(bus.namespace)} and checks the certificate against "
            f"{in_cluster!r}; add that name to the nats-mtls server certificate",
        )
    ]


def _common_name_problems(bus: EventBus, identity: str) -> list[Problem]:
    issued_here = bus.mtls.certificate_issuer is not None and bus.sveltos.client_certificate_secret is None
    if not issued_here or (identity.startswith("CN=") and "," not in identity):
        return []
    return [
        Problem(
            key_path(*ROOT, "identity"),
            identity,
            "dsx-bus requests the agent's certificate with this as its common name, so write it as CN=<name> "
            "(the auth-callout matches CN= first); for another identity bring your own certificate in "
            "sveltos.clientCertificateSecret",
        )
    ]


def _operator_entry_problems(bus: EventBus, identity: str) -> list[Problem]:
    """An operator's mTLS entry for the agent's identity replaces the generated one, so it must serve the agent."""
    found: list[Problem] = []
    for name, entry in bus.auth.permissions.mtls.items():
        path = ("auth", "permissions", "mtls", name)
        if entry.identity == identity:
            found += _agent_entry_problems(bus, path, entry, identity)
        elif name == agent.PERMISSION_NAME:
            found.append(Problem(key_path(*path), name, "dsx-bus generates this mTLS entry for Sveltos; rename yours"))
    return found


def _agent_entry_problems(bus: EventBus, path: _Path, entry: MtlsIdentity, identity: str) -> list[Problem]:
    found: list[Problem] = []
    if entry.account != bus.domain_account:
        found.append(
            Problem(
                key_path(*path, "account"),
                entry.account,
                f"the Sveltos identity {identity} must land in {bus.domain_account}, where cross-layer "
                "routes deliver; or remove this entry and let dsx-bus generate it",
            )
        )
    found += [
        Problem(
            key_path(*path, "permissions", "sub"),
            subject,
            f"the Sveltos identity {identity} may not subscribe to it, so the agent's subscription "
            "is refused and no event arrives. Allow it, or remove this entry and let dsx-bus "
            "generate exactly the permissions Sveltos needs",
        )
        for subject in bus.sveltos.subscriptions()
        if not allows_subscribe(entry.permissions, subject)
    ]
    return found


def allows_subscribe(permissions: Permissions | None, subject: str) -> bool:
    """Whether an identity with these permissions receives everything on `subject`."""
    rule = permissions.sub if permissions is not None else None
    if rule is None:
        return True
    allowed = not rule.allow or any(subjects.is_subset(subject, allow) for allow in rule.allow)
    return allowed and not any(subjects.collide(subject, deny) for deny in rule.deny)
