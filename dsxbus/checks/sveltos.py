"""Project Sveltos on the bus (`sveltos`): the traps of research/sveltos/SPEC.md, caught before anything deploys."""

from __future__ import annotations

import re
from collections.abc import Sequence

from dsxbus import gotemplate, hostnames, re2, subjects, sveltos
from dsxbus.checks.streams import NO_FILE_STORE
from dsxbus.config import EventBus
from dsxbus.errors import Problem, key_path
from dsxbus.model import Permissions
from dsxbus.sveltos import EventRule, MatchCriteria, StreamSpec, Sveltos

_K8S_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_STREAM_NAME_BAD = re.compile(r"[\s.*>/\\]")
ROOT = ("sveltos",)


def problems(bus: EventBus) -> list[Problem]:
    block = bus.sveltos
    if not block.enabled:
        return []
    found = _block_problems(block)
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
        found.append(Problem(key_path("sveltos", "jetstream", "storage"), "file", NO_FILE_STORE))
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
            if not allows_subscribe(entry.permissions, subject):
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


# --- The block alone. ---


def _block_problems(block: Sveltos) -> list[Problem]:
    if not block.enabled:
        return []
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
        stream_path: tuple[str | int, ...] = (*ROOT, "jetstream", "streams", index)
        if not stream.name or _STREAM_NAME_BAD.search(stream.name):
            found.append(
                Problem(
                    key_path(*stream_path, "name"), stream.name, "a stream name has no spaces, '.', '*', '>' or slashes"
                )
            )
        found += _subject_list_problems((*stream_path, "subjects"), stream.subjects)
    found += _stream_object_problems(block.jetstream.streams if block.jetstream else ())
    names: set[str] = set()
    for index, rule in enumerate(block.event_rules):
        path: tuple[str | int, ...] = (*ROOT, "eventRules", index)
        if rule.name in names:
            found.append(Problem(key_path(*path, "name"), rule.name, "two event rules with one name; rename one"))
        names.add(rule.name)
        found += _rule_problems(path, rule, block.subscription_strings())
    return found


def _stream_object_problems(streams: Sequence[StreamSpec]) -> list[Problem]:
    found: list[Problem] = []
    seen: dict[str, str] = {}
    for index, stream in enumerate(streams):
        if not stream.name or _STREAM_NAME_BAD.search(stream.name):
            continue  # reported as a stream name already
        key = key_path(*ROOT, "jetstream", "streams", index, "name")
        token = sveltos.stream_object_token(stream.name)
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


def _subject_list_problems(path: tuple[str | int, ...], listed: Sequence[str]) -> list[Problem]:
    found = []
    if not listed:
        found.append(Problem(key_path(*path), [], "list at least one subject"))
    for index, subject in enumerate(listed):
        why = subjects.problem(subject)
        if why:
            found.append(Problem(key_path(*path, index), subject, f"not a NATS subject: {why}"))
    return found


def _rule_problems(path: tuple[str | int, ...], rule: EventRule, subscriptions: Sequence[str]) -> list[Problem]:
    found: list[Problem] = []
    if not _K8S_NAME.match(rule.name):
        found.append(
            Problem(key_path(*path, "name"), rule.name, "not a Kubernetes name (lower-case letters, digits, '-', '.')")
        )
    if not rule.match:
        found.append(
            Problem(
                key_path(*path, "match"),
                [],
                "list at least one match criterion: the agent registers an EventSource for messaging only "
                "when it has messagingMatchCriteria",
            )
        )
    for index, criteria in enumerate(rule.match):
        found += _criteria_problems((*path, "match", index), criteria, subscriptions)
    trigger = rule.trigger
    selector = trigger.source_cluster_selector
    if selector is None or selector.empty:
        found.append(
            Problem(
                key_path(*path, "trigger", "sourceClusterSelector"),
                None if selector is None else {},
                "required, and an empty selector matches no cluster: give the labels of the clusters whose "
                "events this rule handles, e.g. {matchLabels: {env: production}}",
            )
        )
    action = trigger.cloud_event_action
    if action is not None and not trigger.one_for_event:
        found.append(
            Problem(
                key_path(*path, "trigger", "oneForEvent"),
                False,
                "cloudEventAction is only evaluated with oneForEvent: true (one ClusterProfile per event); with "
                "false it is ignored and Delete never happens. Set oneForEvent: true or drop cloudEventAction",
            )
        )
    if action is not None:
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
    for name, template in rule.templates.items():
        if not _K8S_NAME.match(name) or not _K8S_NAME.match(template.namespace):
            found.append(
                Problem(
                    key_path(*path, "templates", name), name, "ConfigMap name and namespace must be Kubernetes names"
                )
            )
    return found


def _criteria_problems(
    path: tuple[str | int, ...], criteria: MatchCriteria, subscriptions: Sequence[str]
) -> list[Problem]:
    found: list[Problem] = []
    patterns = criteria.patterns()
    for field, pattern in patterns.items():
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
    subject = patterns.get("subject")
    if subject and not re2.problem(subject) and subscriptions and not any(re.search(subject, s) for s in subscriptions):
        found.append(
            Problem(
                key_path(*path, "subject"),
                subject,
                f"matches none of the agent's subscriptions {list(subscriptions)}: the agent matches this "
                "against the subscription string (e.g. 'command.user.>'), not the concrete message subject",
            )
        )
    return found


def allows_subscribe(permissions: Permissions | None, subject: str) -> bool:
    """Whether an identity with these permissions receives everything on `subject`."""
    rule = permissions.sub if permissions is not None else None
    if rule is None:
        return True
    allowed = not rule.allow or any(subjects.is_subset(subject, allow) for allow in rule.allow)
    return allowed and not any(subjects.collide(subject, deny) for deny in rule.deny)
