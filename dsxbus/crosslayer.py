"""The cross-layer lists (cscExports / cscPrefixedExports / cpcExports) and which combinations of them break NATS.

Measured on nats-server 2.15.1 with the upstream CPC account layout (docs/measured-facts.md §2).
nats-server reads the `accounts {}` block in Go map order, so some overlaps fail only some
config loads: one passing `nats-server -t` proves nothing, hence a rule instead of a trial.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import Enum

from dsxbus import subjects
from dsxbus.model import Model
from dsxbus.subjectindex import SubjectIndex

CSC_EXPORTS = "cscExports"
CSC_PREFIXED_EXPORTS = "cscPrefixedExports"
CPC_EXPORTS = "cpcExports"
LISTS = (CSC_EXPORTS, CSC_PREFIXED_EXPORTS, CPC_EXPORTS)

RESERVED = {
    f"{subjects.PREFIX_ROOT}.>": f"the {subjects.prefixed('<id>', '>')} subjects dsx-bus generates to carry each "
    "CPC's traffic on the CSC",
    f"{subjects.SOURCING_ROOT}.>": f"{subjects.sourcing_deliveries('<id>')}, the deliver prefix of each CPC's MQTT "
    "stream sourcing",
    f"{subjects.UPSOURCING_ROOT}.>": f"{subjects.upsourcing_deliveries('<id>')}, the deliver prefix of the CSC's "
    "MQTT stream sourcing from each CPC",
    f"{subjects.UPLINK_ROOT}.>": f"{subjects.uplink_deliveries('<id>')}, the deliver prefix of the CSC's MQTT "
    "streams sourcing each CPC's uplink streams",
}


class LoadFailure(Enum):
    """How often nats-server refuses a CPC config with these lists (docs/measured-facts.md §2)."""

    EVERY_LOAD = "every config load"
    MOST_LOADS = "about 7 config loads in 8"
    SOME_LOADS = "about 1 config load in 8"


@dataclass(frozen=True)
class Entry:
    list_name: str
    index: int
    pattern: str

    def __str__(self) -> str:
        return f"{self.list_name}[{self.index}] {self.pattern!r}"


@dataclass(frozen=True)
class Finding:
    """One broken combination: the entries, a subject both match, what happens, what to do."""

    rule: str
    entry: Entry
    other: Entry | None
    witness: str | None
    consequence: str
    fix: str
    fatal: bool = True

    def describe(self) -> str:
        """The message after `<key> = <value>:` — names the other entry, a witness and the measured effect."""
        head = ""
        if self.other is not None:
            head = f"overlaps {self.other} (both match {self.witness!r}): "
        return f"{head}{self.consequence} Fix: {self.fix}"


class CrossLayer(Model):
    """Which subjects cross between a CPC's local topic space and the CSC's unified one.

    The operator's `crossLayer` block, and the same lists wherever they are found again: a CPC's exported lists, the
    imports of a deployed CPC's accounts (dsxbus.deployed), the policy pack's reading of a stack.
    """

    csc_exports: tuple[str, ...] = ()
    """CSC `X` reaches every CPC as `X` (broadcasts)."""
    csc_prefixed_exports: tuple[str, ...] = ()
    """CSC `cpc.<id>.X` reaches CPC `<id>` as `X` (commands addressed to one CPC)."""
    cpc_exports: tuple[str, ...] = ()
    """CPC `X` reaches the CSC as `cpc.<id>.X` (telemetry)."""

    def entries(self, list_name: str) -> list[Entry]:
        values = {
            CSC_EXPORTS: self.csc_exports,
            CSC_PREFIXED_EXPORTS: self.csc_prefixed_exports,
            CPC_EXPORTS: self.cpc_exports,
        }[list_name]
        return [Entry(list_name, i, p) for i, p in enumerate(values)]


_NEVER_STARTS = "nats-server rejects every config load ('import forms a cycle'): the CPC's NATS never starts."
_SOMETIMES = (
    "nats-server rejects about 1 config load in 8 ('import forms a cycle'; Go map order decides which "
    "account is parsed first): pods crash-loop at random and config reloads fail."
)
_NARROW = "remove one of the two, or narrow them so that no subject matches both."


def check(lists: CrossLayer) -> list[Finding]:
    """Every problem in one CPC's cross-layer lists, errors first then warnings, in list order.

    Rejects what docs/measured-facts.md §2 measured as fatal (A ∨ B ∨ D) and as broken at run time
    (rules 1-4), by reserving `cpc.>`, `csc2cpc.>` and `$` subjects and then testing pairs with a
    true wildcard collision test. With those reserved, the result does not depend on the CPC id
    (see `load_failure`), so the CSC can check fleet defaults before any CPC exists.
    """
    findings: list[Finding] = []
    valid: dict[str, list[Entry]] = {}
    for list_name in LISTS:
        valid[list_name] = []
        for entry in lists.entries(list_name):
            reason = subjects.problem(entry.pattern)
            if reason is None:
                reserved = _reserved(entry)
                if reserved is None:
                    valid[list_name].append(entry)
                else:
                    findings.append(reserved)
                continue
            findings.append(
                Finding(
                    "invalid-subject",
                    entry,
                    None,
                    None,
                    f"is not a valid NATS subject: it {reason}.",
                    "write dot-separated tokens; '*' and '>' only as whole tokens, '>' only last.",
                )
            )
    for list_name in LISTS:
        findings += _within_one_list(valid[list_name])
    for entry in valid[CSC_PREFIXED_EXPORTS]:
        if "*" in entry.pattern.split("."):
            findings.append(
                Finding(
                    "wildcard-in-prefixed-export",
                    entry,
                    None,
                    None,
                    "has '*': NACK rejects the $MQTT_msgs and $MQTT_rmsgs stream sources ('source transform: "
                    "invalid subject'), so no QoS 1 or retained message reaches this CPC from the CSC, "
                    "broadcasts included.",
                    "list each literal token instead of '*', or end the pattern with '>'.",
                )
            )
    findings += _across(valid[CSC_PREFIXED_EXPORTS], valid[CPC_EXPORTS], "prefixed-overlaps-cpc", _NEVER_STARTS)
    findings += _across(valid[CSC_EXPORTS], valid[CPC_EXPORTS], "csc-overlaps-cpc", _SOMETIMES)
    for finding in _across(valid[CSC_EXPORTS], valid[CSC_PREFIXED_EXPORTS], "csc-overlaps-prefixed", ""):
        findings.append(
            Finding(
                finding.rule,
                finding.entry,
                finding.other,
                finding.witness,
                f"harmless for NATS (measured: no loops, no duplicates), but each CPC receives {finding.witness!r} "
                "from the CSC both as a broadcast and, when addressed to it, as a prefixed command.",
                "make sure both routes are intended; narrow one of the patterns if not.",
                fatal=False,
            )
        )
    return sorted(findings, key=lambda f: not f.fatal)


def _reserved(entry: Entry) -> Finding | None:
    if entry.pattern.split(".")[0].startswith("$"):
        return Finding(
            "reserved-system-subject",
            entry,
            None,
            None,
            "is a NATS system subject ($JS, $KV, $OBJ, $MQTT, $SYS...): the accounts already route the ones "
            "cross-layer traffic needs, and exporting them again breaks JetStream and MQTT.",
            "route an application subject instead.",
        )
    for reserved, meaning in RESERVED.items():
        witness = subjects.intersects(entry.pattern, reserved)
        if witness is not None:
            return Finding(
                "reserved-subject",
                entry,
                None,
                witness,
                f"collides with {meaning} (both match {witness!r}). Measured: cscExports 'cpc.>' fails 870 of "
                "1000 config loads and leaks one CPC's traffic to the others; '>' fails every load.",
                f"use subjects outside {reserved!r}; dsx-bus adds the {subjects.cpc_prefix('<id>')} prefix itself.",
            )
    return None


def _colliding_pairs(left: Sequence[Entry], right: Sequence[Entry]) -> Iterator[tuple[Entry, Entry, str]]:
    """Every (left, right) pair whose patterns collide, with a witness, in `itertools.product` order.

    An index over `right` finds each left entry's collisions without testing every pair: lists of thousands of
    entries stay fast (benchmarks/cross_layer_checks.py).
    """
    index = SubjectIndex(entry.pattern for entry in right)
    for first in left:
        for position in index.colliding(first.pattern):
            second = right[position]
            witness = subjects.intersects(first.pattern, second.pattern)
            if witness is not None:  # always, by the index's contract; keeps the type honest
                yield first, second, witness


def _within_one_list(entries: Sequence[Entry]) -> list[Finding]:
    findings = []
    # Each unordered pair once, the earlier entry first (`itertools.combinations` order).
    for first, second, witness in _colliding_pairs(entries, entries):
        if second.index <= first.index:
            continue
        if first.pattern == second.pattern:
            findings.append(
                Finding(
                    "repeated-entry",
                    second,
                    first,
                    witness,
                    "nats-server rejects every config load ('stream import already exists').",
                    "remove the repeated entry.",
                )
            )
            continue
        effect = {
            CSC_EXPORTS: "each CPC receives every matching message twice, and NACK rejects the MQTT stream "
            "sources ('source filters can not overlap'), so QoS 1 and retained CSC → CPC delivery stops.",
            CSC_PREFIXED_EXPORTS: "the CPC receives every matching message twice, and NACK rejects the MQTT "
            "stream sources ('source filters can not overlap'), so QoS 1 and retained CSC → CPC delivery stops.",
            CPC_EXPORTS: "the CPC's own CSC account sees every matching message twice.",
        }[first.list_name]
        findings.append(Finding("overlap-in-one-list", second, first, witness, effect, "keep only the wider pattern."))
    return findings


def _across(left: Sequence[Entry], right: Sequence[Entry], rule: str, consequence: str) -> list[Finding]:
    return [
        Finding(rule, first, second, witness, consequence, _NARROW)
        for first, second, witness in _colliding_pairs(left, right)
    ]


def load_failure(lists: CrossLayer, cluster_id: str) -> LoadFailure | None:
    """The measured predictor of docs/measured-facts.md §2 for one CPC: does nats-server refuse its config?

    A = the check run when the CSC account block is parsed first, B = when the CPC block is,
    D = a repeated stream import. Exact for the upstream account shape (26/26 measured cases,
    60/60 random combinations). Kept beside `check` so tests can show `check` rejects every
    list combination this predicts to fail, whatever the CPC id.
    """
    x, z, y = lists.csc_exports, lists.csc_prefixed_exports, lists.cpc_exports
    prefix = subjects.cpc_prefix(cluster_id)
    sourcing = subjects.sourcing_deliveries(cluster_id)
    collide = subjects.collide
    a = any(collide(t, prefix + e) for t in x + z for e in y) or any(collide(p, e) for p in z for e in y)
    targets = (*x, *z, sourcing)
    b = any(collide(e, t) for e in y for t in targets) or any(
        subjects.is_subset(prefix + e, other) and collide(prefix + e, t) for e in y for other in y for t in targets
    )
    d = (
        any(len(set(values)) != len(values) for values in (x, z, y))
        or any(t == prefix + p for t in x for p in z)
        or sourcing in x
    )
    if d or (a and b):
        return LoadFailure.EVERY_LOAD
    if a:
        return LoadFailure.MOST_LOADS
    if b:
        return LoadFailure.SOME_LOADS
    return None
