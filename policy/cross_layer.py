"""Policy 1: the cross-layer lists, wherever a stack expresses them, obey the measured rule.

The rule and its numbers: docs/measured-facts.md §2.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from dsxbus import crosslayer, deployed
from dsxbus.crosslayer import CrossLayer, Finding
from policy.reading import (
    CPC_COMPONENT,
    CSC_COMPONENT,
    K8sObject,
    Later,
    nats_config_of,
    object_of,
    objects_of,
    prop,
    strings_in,
)


@dataclass(frozen=True)
class _ListsFound:
    """Cross-layer lists where a stack expresses them, and what crosslayer.check says of them."""

    resource: K8sObject
    where: str
    lists: CrossLayer
    findings: list[Finding]


def _lists_text(lists: CrossLayer) -> str:
    return ", ".join(f"{name} {[e.pattern for e in lists.entries(name)]}" for name in crosslayer.LISTS)


def _finding_message(found: _ListsFound, finding: Finding) -> str:
    return f"{found.where}: {finding.entry} {finding.describe()} Lists: {_lists_text(found.lists)}."


def _deployed_accounts(resource: K8sObject) -> list[tuple[str, Mapping[str, object]]]:
    """(where, accounts) of the NATS config a chart, Release or rendered nats.conf ConfigMap deploys."""
    config = nats_config_of(resource)
    accounts = config.tree.get("accounts") if config is not None else None
    return [(f"{config.where}.accounts", accounts)] if config is not None and isinstance(accounts, dict) else []


def _lists_deployed_by(resource: K8sObject) -> list[_ListsFound]:
    found = []
    for where, accounts in _deployed_accounts(resource):
        layout = deployed.cross_layer_of_accounts(accounts)
        if layout is None:
            continue  # not a CPC: the CSC's accounts carry no cross-layer imports
        cpc = f", CPC {layout.cluster_id!r}" if layout.cluster_id else ""
        found.append(_ListsFound(resource, where + cpc, layout.lists, crosslayer.check(layout.lists)))
    return found


def _lists_of(value: object) -> CrossLayer | None:
    if not isinstance(value, dict):
        return None
    csc, prefixed, cpc = (tuple(strings_in(value.get(name))) for name in crosslayer.LISTS)
    return CrossLayer(csc_exports=csc, csc_prefixed_exports=prefixed, cpc_exports=cpc)


def _lists_exported_by(resource: K8sObject) -> list[_ListsFound]:
    """A dsx-bus CPC's effective lists (its `crossLayer` output) and the CSC's fleet defaults every CPC inherits."""
    if resource.type == CPC_COMPONENT:
        lists = _lists_of(prop(resource.props, "crossLayer"))
        cluster_id = prop(resource.props, "clusterId")
        where = f"{resource.type} {resource.name} output crossLayer (CPC {cluster_id!r})"
    elif resource.type == CSC_COMPONENT:
        lists = _lists_of(prop(resource.props, "fleetDefaults", "crossLayer"))
        where = (
            f"{resource.type} {resource.name} output fleetDefaults.crossLayer (inherited by every CPC that sets none)"
        )
    else:
        return []
    return [] if lists is None else [_ListsFound(resource, where, lists, crosslayer.check(lists))]


def _validate_deployed_lists(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    for found in _lists_deployed_by(object_of(args)):
        for finding in found.findings:
            if finding.fatal:
                report_violation(_finding_message(found, finding), None)


def _validate_exported_lists(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    later = Later()
    for resource in objects_of(args):
        with later.reading(f"{resource.type} {resource.name}"):
            for found in _lists_exported_by(resource):
                for finding in found.findings:
                    if finding.fatal:
                        report_violation(_finding_message(found, finding), resource.urn)
    later.settle()


def _validate_double_routes(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    later = Later()
    for resource in objects_of(args):
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
        "cpcExports, no overlap within a list, no '*' in cscPrefixedExports, nothing in "
        f"{', '.join(crosslayer.RESERVED)} or $ subjects. Otherwise nats-server refuses some or all config loads, or "
        "messages are duplicated or lost."
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
