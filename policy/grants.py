"""Policy 7, mandatory: noauth and the operator's permissions.json entries stay confined (dsxbus.grants).

The acknowledgement a stack config gives an entry (`acknowledge`) is config only: the auth-callout's permissions.json
keeps its upstream schema, so the pack never sees it. Acknowledgements for the pack live in its own config, per stack
(`acknowledged`), where the policy's owner grants them, not the stack's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    StackValidationArgs,
    StackValidationPolicy,
)

from dsxbus import deployed, grants, naming, stackoutputs
from dsxbus.crosslayer import CrossLayer
from dsxbus.model import GrantRisk
from policy.reading import (
    ALL_STACKS,
    CPC_COMPONENT,
    CSC_COMPONENT,
    AuthCalloutFiles,
    K8sObject,
    Later,
    auth_callouts,
    config_of,
    current_stack,
    nats_config_of,
    nkey_entries,
    objects_of,
    prop,
    same_namespace,
)

STACK_REFERENCE = "pulumi:pulumi:StackReference"
ENTRY_KINDS = ("oauth2", "mtls", "nkey")


@dataclass(frozen=True)
class _Cluster:
    """What the stack says about the cluster an auth-callout serves; None where it says nothing."""

    cluster_type: grants.ClusterType | None
    cluster_id: str | None
    lists: list[CrossLayer] | None


def _lists(value: object) -> CrossLayer | None:
    try:
        return CrossLayer.model_validate(value) if isinstance(value, Mapping) else None
    except ValueError:
        return None


def _from_components(resources: list[K8sObject]) -> _Cluster | None:
    for component in resources:
        if component.type == CPC_COMPONENT:
            cluster_id = prop(component.props, "clusterId")
            lists = _lists(prop(component.props, "crossLayer"))
            return _Cluster("cpc", str(cluster_id) if cluster_id else None, [lists] if lists else None)
        if component.type == CSC_COMPONENT:
            # Fleet defaults, and each deployed CPC's own lists as its stack reference reads them (the program has
            # refused any that are no CrossLayer: dsxbus.stackoutputs).
            found = [_lists(prop(component.props, "fleetDefaults", "crossLayer")) or CrossLayer()]
            for reference in (r for r in resources if r.type == STACK_REFERENCE):
                if prop(reference.props, "outputs", stackoutputs.CLUSTER_TYPE) == "cpc":
                    own = _lists(prop(reference.props, "outputs", stackoutputs.CROSS_LAYER))
                    found += [own] if own else []
            return _Cluster("csc", None, found)
    return None


def _from_accounts(resources: list[K8sObject], config_map: K8sObject) -> _Cluster | None:
    for resource in (r for r in resources if same_namespace(r, config_map)):
        config = nats_config_of(resource)
        accounts = config.tree.get("accounts") if config is not None else None
        if not isinstance(accounts, Mapping):
            continue
        cpc = deployed.cross_layer_of_accounts(accounts)
        if cpc is not None:
            return _Cluster("cpc", cpc.cluster_id, [cpc.lists])
        if naming.CSC in accounts:
            return _Cluster("csc", None, None)
    return None


def _from_document(document: Mapping[str, Any]) -> _Cluster:
    if any(naming.leaf_entry_name(name) is not None for name in nkey_entries(document)):
        return _Cluster("csc", None, None)
    entries = [e for kind in ENTRY_KINDS if isinstance(document.get(kind), dict) for e in document[kind].values()]
    entries.append(document.get("noauth"))
    if any(isinstance(e, Mapping) and e.get("account") == naming.CPC for e in entries):
        return _Cluster("cpc", None, None)
    return _Cluster(None, None, None)


def _acknowledged(config: Mapping[str, Any]) -> dict[tuple[str, str | None], set[str]]:
    """(kind, entry name) -> the risks this stack's policy config acknowledges (`*` and the stack's own, merged)."""
    by_stack = config.get("acknowledged")
    found: dict[tuple[str, str | None], set[str]] = {}
    if not isinstance(by_stack, Mapping):
        return found
    for stack in (ALL_STACKS, current_stack()):
        given = by_stack.get(stack)
        if not isinstance(given, Mapping):
            continue
        noauth = given.get("noauth")
        if isinstance(noauth, Sequence):
            found.setdefault(("noauth", None), set()).update(str(r) for r in noauth)
        for kind in ENTRY_KINDS:
            entries = given.get(kind)
            for name, risks in entries.items() if isinstance(entries, Mapping) else ():
                if isinstance(risks, Sequence):
                    found.setdefault((kind, str(name)), set()).update(str(r) for r in risks)
    return found


def _entries(document: Mapping[str, Any]) -> list[tuple[str, str | None, Mapping[str, Any]]]:
    found: list[tuple[str, str | None, Mapping[str, Any]]] = []
    for kind in ENTRY_KINDS:
        entries = document.get(kind)
        for name, entry in entries.items() if isinstance(entries, Mapping) else ():
            if isinstance(entry, Mapping) and not grants.internal_identity(kind, str(name)):
                found.append((kind, str(name), entry))
    noauth = document.get("noauth")
    if isinstance(noauth, Mapping):
        found.append(("noauth", None, noauth))
    return found


def _violations(callout: AuthCalloutFiles, cluster: _Cluster, acknowledged: Mapping[Any, set[str]]) -> list[str]:
    cm, messages = callout.permissions, []
    stack = current_stack() or ALL_STACKS
    # One landing per account: on a CSC it is the union of every CPC's lists, the same for each entry of an account.
    landings: dict[str | None, grants.Landing] = {}
    for kind, name, entry in _entries(callout.document):
        account = entry.get("account")
        known = account if isinstance(account, str) and not deployed.env_reference(account) else None
        if known not in landings:
            landings[known] = grants.landing(cluster.cluster_type, known, cluster.lists, cluster.cluster_id)
        where = landings[known]
        permissions = grants.permissions_of(entry.get("permissions"))
        granted = acknowledged.get((kind, name), set())
        for reached in grants.reach(permissions, where, grants.risks_for(kind)):
            if reached.risk in granted:
                continue
            parts, _ = grants.located(reached, permissions)
            base = "noauth" if name is None else f"{kind}.{name}"
            at = base + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)
            risks = [reached.risk]
            entry_config: object = risks if name is None else {name: risks}
            fragment = json.dumps({"acknowledged": {stack: {kind: entry_config}}})[1:-1]
            messages.append(
                f"{cm.label}: {at}: {grants.describe(reached, kind, name)}. Fix: {grants.FIXES[reached.risk]}; or, if "
                f"intended, acknowledge it in this policy's config ({fragment}) and, in a dsx-bus stack, in "
                f"auth.permissions.{base}.acknowledge."
            )
    return messages


def _validate_grants(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    resources = objects_of(args)
    acknowledged = _acknowledged(config_of(args))
    later = Later()
    for callout in auth_callouts(resources, later):
        cm = callout.permissions
        with later.reading(f"{cm.label} and the cluster it serves"):
            cluster = _from_components(resources) or _from_accounts(resources, cm) or _from_document(callout.document)
            for message in _violations(callout, cluster, acknowledged):
                report_violation(message, cm.urn)
    later.settle()


_RISKS: list[GrantRisk] = list(grants.RISKS)
_RISK_LIST = {"type": "array", "items": {"type": "string", "enum": _RISKS}}

GRANTS_CONFINED = StackValidationPolicy(
    name="grants-confined",
    display_name="Anonymous and operator grants stay on their cluster",
    description=(
        "permissions.json's noauth and operator entries (oauth2, mtls, nkey) reach no other cluster's commands "
        "(on a CPC: nothing crosses to the CSC but its cpcExports telemetry) and no $JS./$KV./$OBJ./$SYS./$MQTT. "
        "API; noauth also no broadcast to every CPC and no whole account (pub and sub allow lists). Unless this "
        "policy's config acknowledges it for that entry."
    ),
    validate=_validate_grants,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=PolicyConfigSchema(
        properties={
            "acknowledged": {
                "type": "object",
                "additionalProperties": {
                    "type": "object",
                    "properties": {
                        "noauth": _RISK_LIST,
                        **{kind: {"type": "object", "additionalProperties": _RISK_LIST} for kind in ENTRY_KINDS},
                    },
                    "additionalProperties": False,
                },
                "default": {},
                "description": (
                    "Stack name (or '*') -> the risks each entry takes on purpose: {noauth: [risk...], "
                    "oauth2|mtls|nkey: {entry name: [risk...]}}; risks: " + ", ".join(_RISKS) + "."
                ),
            }
        }
    ),
    remediation_steps=(
        "Narrow the entry's allow lists (or deny the dangerous subjects); anonymous clients need allow lists. If the "
        "grant is intended, list its risk under acknowledged.<stack> in the policy config (and in the stack config's "
        "auth.permissions.<entry>.acknowledge)."
    ),
)
