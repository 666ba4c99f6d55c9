"""Policies 4 and 5: every configured CPC's leaf is admitted on the CSC, and confined to its own cpc.<id>. space."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from dsxbus import deployed, naming, subjects, topology
from dsxbus.crosslayer import CrossLayer
from policy.reading import (
    CSC_COMPONENT,
    Environment,
    K8sObject,
    Later,
    auth_callouts,
    nkey_entries,
    object_of,
    objects_of,
    permissions_document,
    prop,
    same_namespace,
    secret_value,
    strings_in,
)


@dataclass(frozen=True)
class _LeafIssue:
    message: str
    urn: str
    pending: bool


def _leaf_issues(resources: list[K8sObject], later: Later) -> list[_LeafIssue]:
    issues: list[_LeafIssue] = []
    listed: dict[str, str] = {}
    pending: set[str] = set()
    for component in (r for r in resources if r.type == CSC_COMPONENT):
        with later.reading(f"{component.type} {component.name}"):
            cpcs = prop(component.props, "cpcs")
            listed |= {str(k): str(v) for k, v in cpcs.items()} if isinstance(cpcs, dict) else {}
            pending |= set(strings_in(prop(component.props, "pendingCpcs")))
    for callout in auth_callouts(resources, later):
        cm = callout.permissions
        with later.reading(f"{cm.label} and the leaf key Secrets beside it"):
            entries = {
                owner: (name, entry)
                for name, entry in nkey_entries(callout.document).items()
                if (owner := naming.leaf_entry_name(name)) is not None
            }
            keys: dict[naming.LeafEntryName, tuple[K8sObject, str]] = {}
            for secret in (r for r in resources if r.is_k8s("Secret") and same_namespace(r, cm)):
                owner = naming.leaf_secret_name(secret.object_name)
                if owner is not None:
                    keys[owner] = (secret, secret_value(secret, naming.PUBKEY) or "")
            env = Environment(callout.deployments, resources)
            cluster_ids = sorted({o.cluster_id for o in entries} | {o.cluster_id for o in keys} | set(listed))
            if not entries and not keys and not (listed and callout.deployments):
                continue  # not a CSC
            # Each CPC's entries and keys, in the order they are met, so each CPC looks only at its own.
            owners: dict[str, list[naming.LeafEntryName]] = {}
            for owner in [*entries, *keys]:
                owners.setdefault(owner.cluster_id, []).append(owner)
            for cluster_id in cluster_ids:
                mine = {o for o in owners.get(cluster_id, [])}
                issues += _leaf_issues_of(cluster_id, mine, cm, entries, keys, env, listed, pending)
    return issues


def _leaf_issues_of(
    cluster_id: str,
    mine: set[naming.LeafEntryName],
    cm: K8sObject,
    entries: Mapping[naming.LeafEntryName, tuple[str, dict[str, Any]]],
    keys: Mapping[naming.LeafEntryName, tuple[K8sObject, str]],
    env: Environment,
    listed: Mapping[str, str],
    pending: set[str],
) -> list[_LeafIssue]:
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
    later = Later()
    for issue in _leaf_issues(objects_of(args), later):
        if not issue.pending:
            report_violation(issue.message, issue.urn)
    later.settle()


def _validate_pending_cpcs(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    later = Later()
    for issue in _leaf_issues(objects_of(args), later):
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
        f"{naming.leaf_pubkey_secret('<id>')} and permissions.json gets {naming.leaf_permission('<id>')}."
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


def _least_privilege(cluster_id: str) -> dict[str, str]:
    """What `leaf-cpc-<cluster_id>` should allow and deny each way, for a message (dsx-bus's own grant).

    The pack sees no CSC config, so it names the grant without uplinks (mqttStreams.uplinks, on by default) and
    what the uplinks add apart.
    """
    least = topology.leaf_permissions(cluster_id, CrossLayer(), uplinks=False)
    wide = topology.leaf_permissions(cluster_id, CrossLayer(), uplinks=True)
    deny = ", ".join(topology.LEAF_DENY)
    found = {}
    for direction, rule, wider in (("pub", least.pub, wide.pub), ("sub", least.sub, wide.sub)):
        allow = rule.allow if rule else ()
        extra = [p for p in (wider.allow if wider else ()) if p not in allow]
        text = ", ".join((*(("its cscExports",) if direction == "sub" else ()), *allow)) + f" and deny {deny}"
        found[direction] = text + (f" (with the CSC's mqttStreams.uplinks also {', '.join(extra)})" if extra else "")
    return found


def _validate_leaf_scope(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    cm = object_of(args)
    document = permissions_document(cm)
    if document is None:
        return
    for name, entry in nkey_entries(document).items():
        owner = naming.leaf_entry_name(name)
        if owner is None or owner.account_token is not None:
            continue  # extra-account leafs share one fleet-wide space by design
        cluster_id = owner.cluster_id
        expected = _least_privilege(cluster_id)
        for reach in deployed.leaf_reach(cluster_id, entry.get("permissions")):
            verb = "publish to" if reach.direction == "pub" else "subscribe to"
            if reach.missing_deny is not None:
                how = f"has no {reach.direction}.deny of {reach.missing_deny!r}"
            elif reach.pattern is None:
                how = f"has no {reach.direction}.allow list, so it may {verb} any subject of its account"
            else:
                how = f"allows {reach.direction} {reach.pattern!r}"
            report_violation(
                f"{cm.label}: nkey entry {name} {how}: the leaf key of CPC {cluster_id!r} can {verb} "
                f"{reach.witness!r}, {reach.what} (measured upstream: CPC 1's leaf read cpc.2.sensor.temp and "
                "injected cpc.2.command.restart; with $JS.CSC.API.> it read CPC 2's telemetry through a stream "
                "of its own and deleted CSC streams, docs/threat-model.md). Fix: allow "
                f"{reach.direction} only "
                f"{expected[reach.direction]}.",
                None,
            )


LEAF_LEAST_PRIVILEGE = ResourceValidationPolicy(
    name="leaf-least-privilege",
    display_name="Each CPC's leaf is confined to its own CPC",
    description=(
        f"The CSC's {naming.leaf_permission('<id>')} permission entries allow publish and subscribe only within CPC "
        f"<id>'s space: never another CPC's {subjects.prefixed('<other>', '>')}, "
        f"{subjects.sourcing_deliveries('<other>')}, source streams or {subjects.cpc_jetstream_api('<other>')}, nor "
        "the CSC's JetStream API beyond consumers on its own source streams, nor _INBOX.> (the allow lists decide; "
        "deny lists are not credited)."
    ),
    validate=_validate_leaf_scope,
    enforcement_level=EnforcementLevel.MANDATORY,
    remediation_steps=(
        f"Give {naming.leaf_permission('<id>')} pub allow {_least_privilege('<id>')['pub']}; sub allow "
        f"{_least_privilege('<id>')['sub']} (as dsx-bus does)."
    ),
)
