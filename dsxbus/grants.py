"""What a permission grant reaches: the dangerous subjects an identity's permissions let it publish to.

An identity (anonymous clients through `noauth`, an operator's oauth2 / mtls / nkey entry) lands in one account of
one cluster with NATS pub/sub permissions. The routing (topology.py, the cross-layer lists) decides which subjects
of that account leave the cluster and which are server APIs; `dangers` names them per account, and `reach` says
which of them a grant lets the identity publish to, each with a witness subject an operator can publish to see it
happen. Measured on the local federation: an anonymous MQTT client with the whole CPC account deleted a CSC stream
through `$JS.CSC.API.>`, made another CPC receive a command through a republishing stream and read its telemetry
through another; an anonymous client on the CSC allowed `cpc.*.command.>` commanded every CPC.

The risks (`GrantRisk`):

- `crossClusterCommands`: publishing acts on another cluster. On the CSC: `cpc.<id>.X` for X in any
  cscPrefixedExports (CPC <id> receives it as command X; a wildcard id commands every CPC), `csc2cpc.<id>.>` (a
  CPC's MQTT stream sourcing) and another JetStream domain's API (each CPC's is `$JS.CPC-<id>.API.>` through its
  leaf). On a CPC, whatever crosses to the CSC other than the cpcExports telemetry: the CSC's JetStream API and flow
  control, and in the CPC's `CSC` account (its window on the CSC) every `cpc.*.` subject but its own telemetry and
  the JetStream API the account maps to the CSC's.
- `broadcasts`: on the CSC, cscExports subjects reach every CPC. Legitimate for the CSC's own applications, so it is
  a risk for anonymous clients only (`ANONYMOUS_RISKS`).
- `serverApis`: `$JS.` (JetStream), `$KV.`, `$OBJ.`, `$SYS.` and `$MQTT.` (MQTT sessions, retained messages and
  QoS 1 streams) subjects, in any account.
- `wholeAccount`: no pub or no sub allow list, so everything in the account (minus denies). A risk for anonymous
  clients only: an operator's admin identity may hold an account, but then meets the two risks above.

How reach is computed: for each allow entry A and danger D, `subjects.meet(A, D)` is the pattern of exactly the
subjects both match; the grant reaches D iff a subject of that overlap escapes every deny entry (and the danger's
own exclusions, such as the CPC's telemetry), which `subjects.uncovered` decides exactly (not one witness tried
against the denies, which would miss `allow [cpc.*.command.>] deny [cpc.x.>]` still reaching `cpc.y.command.x`, nor
each deny tested alone as a superset, which would miss `deny [$KV.*, $KV.*.>]` together taking all of `$KV.>`). A
direction without an allow list allows everything (NATS' rule), so it is judged as if it allowed `>`.

Limits:
- The routing is dsx-bus's account layout (topology.py) and the lists given. A CPC account layout written by hand
  with other imports is not modelled; the generic JetStream dangers (`$JS.CSC.API.>`, `$JS.FC.>`) are flagged
  whether or not the layout imports all of them (they are server APIs either way).
- Lists not known (None) are over-approximated where that is sound: on the CSC every `cpc.*.>` subject may be a
  command; in a CPC's window account no telemetry is excluded. Unknown cscExports leave broadcasts unchecked.
- Only publishing is judged, apart from `wholeAccount`: subscribing to `_INBOX.>` replies or `$MQTT.>` internals
  is not reported. `resp` (reply permissions) is not considered: it only allows answering requests received.
- An account given as an env reference (`${VAR}`) is unknown: only `serverApis` and `wholeAccount` are judged.
- Spoofing within a cluster is not judged: a grant to publish a CPC's own command or broadcast subjects in its CPC
  account (which local subscribers such as Sveltos take for the CSC's) stays on that CPC and is not reported.
- Invalid subjects are ignored here (validation reports them; nats-server would not apply them).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from dsxbus import naming, subjects, topology
from dsxbus.crosslayer import CrossLayer
from dsxbus.model import GrantRisk, Permissions, SubjectRule
from dsxbus.sveltos import agent as sveltos_agent

Direction = Literal["pub", "sub"]
ClusterType = Literal["csc", "cpc"]

RISKS: tuple[GrantRisk, ...] = ("crossClusterCommands", "broadcasts", "serverApis", "wholeAccount")
ANONYMOUS_RISKS: tuple[GrantRisk, ...] = RISKS
"""What `noauth` may never be granted unacknowledged."""
OPERATOR_RISKS: tuple[GrantRisk, ...] = ("crossClusterCommands", "serverApis")
"""What an operator's oauth2 / mtls / nkey entry may never be granted unacknowledged."""

SERVER_APIS: tuple[tuple[str, str], ...] = (
    ("$JS.>", "the JetStream API (create, change and delete streams and consumers, read any stream)"),
    ("$KV.>", "the key-value stores"),
    ("$OBJ.>", "the object stores"),
    ("$SYS.>", "the server's system API"),
    ("$MQTT.>", "MQTT's internals (sessions, retained messages, QoS 1 streams)"),
)


@dataclass(frozen=True)
class Danger:
    """Subjects of an account that a grant must not reach unacknowledged."""

    risk: GrantRisk
    pattern: str
    what: str
    """What publishing there does, said to an operator."""
    excluding: tuple[str, ...] = ()
    """Subjects under `pattern` that are not dangerous (a CPC's own telemetry)."""


@dataclass(frozen=True)
class Landing:
    """Where an identity lands and what that cluster routes. A list that is None is not known."""

    cluster_type: ClusterType | None
    """None: not known (both clusters' dangers are assumed)."""
    account: str | None
    """None: not known (an env reference); only account-independent risks are judged."""
    cluster_id: str | None = None
    """The CPC's id (a CPC); None: any CPC."""
    csc_exports: tuple[str, ...] | None = ()
    csc_prefixed_exports: tuple[str, ...] | None = ()
    cpc_exports: tuple[str, ...] | None = ()


def landing(
    cluster_type: ClusterType | None,
    account: str | None,
    lists: Iterable[CrossLayer] | None,
    cluster_id: str | None = None,
) -> Landing:
    """A landing with the union of the given lists (on the CSC: its fleet defaults and every CPC's own), or none."""
    if lists is None:
        return Landing(cluster_type, account, cluster_id, None, None, None)
    chosen = list(lists)

    def union(values: Iterable[tuple[str, ...]]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p for patterns in values for p in patterns))

    return Landing(
        cluster_type,
        account,
        cluster_id,
        union(c.csc_exports for c in chosen),
        union(c.csc_prefixed_exports for c in chosen),
        union(c.cpc_exports for c in chosen),
    )


_NOT_ANOTHER_DOMAIN = tuple(f"$JS.{token}.>" for token in (naming.CSC, "API", "FC", "ACK", "EVENT"))
"""`$JS.<token>.` subjects that are the CSC's own JetStream (its domain, the local API, flow control, acks, events)."""


def _csc_dangers(where: Landing) -> list[Danger]:
    found: list[Danger] = []
    if where.csc_prefixed_exports is None:
        found.append(
            Danger(
                "crossClusterCommands",
                subjects.prefixed("*", ">"),
                "a subject addressed to a CPC (cpc.<id>.>: each CPC imports its commands from there, and the lists "
                "that say which are not known here)",
            )
        )
    for pattern in where.csc_prefixed_exports or ():
        found.append(
            Danger(
                "crossClusterCommands",
                subjects.prefixed("*", pattern),
                f"a command to a CPC (cscPrefixedExports {pattern!r}: the CSC's cpc.<id>.{pattern} reaches CPC <id> "
                f"as {pattern}, and a wildcard id reaches every CPC)",
            )
        )
    found.append(
        Danger(
            "crossClusterCommands",
            subjects.sourcing_deliveries("*"),
            f"a CPC's MQTT stream sourcing ({subjects.sourcing_deliveries('<id>')} is delivered to CPC <id>)",
        )
    )
    found.append(
        Danger(
            "crossClusterCommands",
            f"{subjects.jetstream_api('*')}.>",
            f"another JetStream domain's API (each CPC's JetStream is {subjects.cpc_jetstream_api('<id>')} through its "
            "leaf)",
            excluding=_NOT_ANOTHER_DOMAIN,
        )
    )
    for pattern in where.csc_exports or ():
        found.append(Danger("broadcasts", pattern, f"a broadcast to every CPC (cscExports {pattern!r})"))
    return found


_CSC_JETSTREAM = (
    (f"{subjects.jetstream_api(naming.CSC)}.>", "the CSC's JetStream API (streams and consumers of the whole fleet)"),
    ("$JS.FC.>", "JetStream flow control answered on the CSC"),
)


def _cpc_dangers(where: Landing) -> list[Danger]:
    """What crosses from a CPC's CPC account to the CSC beyond the cpcExports telemetry: its service imports."""
    return [Danger("crossClusterCommands", pattern, what) for pattern, what in _CSC_JETSTREAM]


def _window_dangers(where: Landing) -> list[Danger]:
    """A CPC's `CSC` account is leaf-connected to the CSC's: what it publishes crosses unless the leaf refuses it."""
    found = [
        Danger("crossClusterCommands", source, f"mapped to the CSC's JetStream ({dest})")
        for source, dest in topology.js_api_mappings(naming.CSC)
    ]
    found += [Danger("crossClusterCommands", pattern, what) for pattern, what in _CSC_JETSTREAM]
    owner = where.cluster_id or "*"
    telemetry = tuple(subjects.prefixed(owner, p) for p in where.cpc_exports or ())
    found.append(
        Danger(
            "crossClusterCommands",
            subjects.prefixed("*", ">"),
            "a subject that crosses the leaf to the CSC as a CPC's traffic (only this CPC's cpcExports telemetry "
            "is meant to)",
            excluding=telemetry,
        )
    )
    return found


def dangers(where: Landing) -> tuple[Danger, ...]:
    """Every dangerous subject of the account an identity lands in."""
    found = [Danger("serverApis", pattern, what) for pattern, what in SERVER_APIS]
    account, kind = where.account, where.cluster_type
    if account == naming.CPC and kind in ("cpc", None):
        found += _cpc_dangers(where)
    elif account == naming.CSC and kind == "csc":
        found += _csc_dangers(where)
    elif account == naming.CSC and kind == "cpc":
        found += _window_dangers(where)
    elif account == naming.CSC:  # not known which cluster: either may be meant
        found += _csc_dangers(where) + _window_dangers(where)
    return tuple(found)


@dataclass(frozen=True)
class Reach:
    """One dangerous thing a grant lets an identity do, with the subject that shows it."""

    risk: GrantRisk
    direction: Direction
    index: int | None
    """The allow entry's index; None when the direction has no allow list (everything is allowed)."""
    allow: str | None
    """The allow entry; None when the direction has no allow list."""
    witness: str
    """A subject the identity may use this way."""
    what: str


def _valid(patterns: Iterable[str]) -> tuple[str, ...]:
    return tuple(p for p in patterns if isinstance(p, str) and subjects.problem(p) is None)


def reach(permissions: Permissions | None, where: Landing, risks: Collection[GrantRisk] = RISKS) -> list[Reach]:
    """Every risk among `risks` the grant reaches: per direction and allow entry, the first danger of each risk.

    The allow entries are judged one by one (the union of their overlaps with a danger is what the grant reaches),
    each against the whole deny list.
    """
    found: list[Reach] = []
    for direction in ("pub", "sub"):
        rule: SubjectRule | None = getattr(permissions, direction) if permissions is not None else None
        deny = _valid(rule.deny) if rule is not None else ()
        allow = rule.allow if rule is not None else ()
        if not allow and "wholeAccount" in risks:
            witness = subjects.uncovered(">", deny)
            if witness is not None:
                where_to = f"account {where.account!r}" if where.account else "its account"
                what = f"every subject of {where_to}"
                found.append(Reach("wholeAccount", direction, None, None, witness, what))
        if direction == "sub":
            continue  # what a grant can do to others is what it publishes
        entries: list[tuple[int | None, str]] = (
            [(i, a) for i, a in enumerate(allow) if subjects.problem(a) is None] if allow else [(None, ">")]
        )
        for index, pattern in entries:
            for risk in (r for r in RISKS if r in risks and r != "wholeAccount"):
                hit = _first(pattern, deny, (d for d in dangers(where) if d.risk == risk))
                if hit is not None:
                    danger, witness = hit
                    shown = pattern if index is not None else None
                    found.append(Reach(risk, direction, index, shown, witness, danger.what))
    return found


def _first(pattern: str, deny: tuple[str, ...], candidates: Iterable[Danger]) -> tuple[Danger, str] | None:
    for danger in candidates:
        witness = escapes(pattern, deny, danger)
        if witness is not None:
            return danger, witness
    return None


def escapes(allow: str, deny: Iterable[str], danger: Danger) -> str | None:
    """A subject `allow` lets through into `danger` that neither `deny` nor the danger's exclusions stop, or None.

    Exact: the overlap of allow entry and danger is one pattern (`subjects.meet`), and whether the denies take all of
    it is decided by `subjects.uncovered`, not by trying one witness.
    """
    overlap = subjects.meet(allow, danger.pattern)
    return None if overlap is None else subjects.uncovered(overlap, (*deny, *danger.excluding))


def risks_for(kind: str) -> tuple[GrantRisk, ...]:
    """The risks an entry of this permissions.json kind (`noauth`, `oauth2`, `mtls`, `nkey`) may not take silently."""
    return ANONYMOUS_RISKS if kind == "noauth" else OPERATOR_RISKS


def who(kind: str, name: str | None = None) -> str:
    """How a message names the identity: `anonymous clients (noauth)`, `OAuth2 client 'csc-admin'`."""
    label = {"oauth2": "OAuth2 client", "mtls": "mTLS identity", "nkey": "NKey user"}.get(kind)
    return "anonymous clients (noauth)" if label is None else f"{label} {name!r}"


def describe(found: Reach, kind: str, name: str | None = None) -> str:
    """What the grant lets the identity do, for a message: `... may publish 'cpc.x.command.x': a command to ...`."""
    verb = "publish to" if found.direction == "pub" else "subscribe to"
    identity = who(kind, name)
    if found.risk == "wholeAccount":
        return f"there is no {found.direction}.allow list, so {identity} may {verb} {found.what}"
    how = (
        f"allows {found.direction} {found.allow!r}"
        if found.allow is not None
        else f"there is no {found.direction}.allow list"
    )
    return f"{how}, so {identity} may {verb} {found.witness!r}: {found.what}"


def located(found: Reach, permissions: Permissions | None) -> tuple[tuple[str | int, ...], object]:
    """Where in an entry a finding is (path parts below the entry) and the value there: the allow entry, else where
    the allow list is missing (`permissions`, `permissions.pub`, or an empty `permissions.pub.allow`)."""
    if found.index is not None:
        return ("permissions", found.direction, "allow", found.index), found.allow
    if permissions is None:
        return ("permissions",), None
    if getattr(permissions, found.direction) is None:
        return ("permissions", found.direction), None
    return ("permissions", found.direction, "allow"), []


FIXES: Mapping[GrantRisk, str] = {
    "crossClusterCommands": (
        "allow only subjects that stay on this cluster (a CPC's cpcExports telemetry is meant to cross), or deny "
        "the rest"
    ),
    "broadcasts": "anonymous clients should not broadcast to every CPC: narrow the allow list or deny them",
    "serverApis": "remove the $-subject or deny it (an identity that administers JetStream needs its own entry)",
    "wholeAccount": (
        "list what these clients need in an allow list (on a CPC, e.g. pub its cpcExports telemetry, sub its "
        "broadcasts and commands)"
    ),
}
"""How to narrow a grant that reaches each risk."""


def internal_identity(kind: str, name: str) -> bool:
    """An entry dsx-bus generates for its own components (NACK, Surveyor, nats-mtls leafs, CPC leafs, the Sveltos
    agent): not an operator's grant. CPC leafs are judged by the leaf-least-privilege policy instead."""
    if kind == "nkey":
        services = (naming.NACK_PERMISSION, naming.NACK_SOURCES_PERMISSION, naming.SURVEYOR_PERMISSION)
        return name in (*services, *naming.MTLS_LEAF_PERMISSIONS) or naming.leaf_entry_name(name) is not None
    return kind == "mtls" and name == sveltos_agent.PERMISSION_NAME


def permissions_of(value: object) -> Permissions | None:
    """The `permissions` of a permissions.json entry as the auth-callout applies them; None when there are none.

    Read leniently (a hand-written file may carry other keys): only string subjects in `allow` / `deny` count.
    """
    if not isinstance(value, Mapping):
        return None

    def rule(raw: object) -> SubjectRule | None:
        if not isinstance(raw, Mapping):
            return None

        def strings(key: str) -> tuple[str, ...]:
            items = raw.get(key)
            return tuple(s for s in items if isinstance(s, str)) if isinstance(items, list | tuple) else ()

        return SubjectRule(allow=strings("allow"), deny=strings("deny"))

    return Permissions(pub=rule(value.get("pub")), sub=rule(value.get("sub")))
