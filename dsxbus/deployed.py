"""Read what a cluster is set up to run (NATS accounts, nats.conf, permissions.json, auth-callout settings) back
into domain terms, so checks on deployed resources reuse the same rules as the config model.

Everything here takes plain JSON-like values (dicts, lists, strings) as they appear in Kubernetes objects and
chart values, written by dsx-bus or by hand, and never trusts their shape.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from dsxbus import naming, nkeys, subjects
from dsxbus.crosslayer import CrossLayer
from dsxbus.topology import LEAF_DENY, SOURCES_API, sourcing_api, sourcing_flow_control

# ---- cross-layer lists from a CPC's accounts (the inverse of topology.cpc_accounts) ----------------------------


@dataclass(frozen=True)
class DeployedCrossLayer:
    """The cross-layer lists a CPC's `CSC` and `CPC` accounts implement, and the CPC id they are prefixed with."""

    cluster_id: str | None
    """None when no generated subject names the CPC (a layout with empty lists and no JetStream routing)."""
    lists: CrossLayer


def _mapping(value: object) -> Mapping[str, object]:
    return value if isinstance(value, Mapping) else {}


def _items(value: object) -> list[object]:
    return list(value) if isinstance(value, Sequence) and not isinstance(value, str) else []


def _stream_imports(account: Mapping[str, object], source: str) -> list[tuple[str, str | None]]:
    """(subject, to) of every stream import from `source`, in order."""
    found = []
    for item in _items(account.get("imports")):
        entry = _mapping(item)
        stream = _mapping(entry.get("stream"))
        subject, to = stream.get("subject"), entry.get("to")
        if stream.get("account") == source and isinstance(subject, str):
            found.append((subject, to if isinstance(to, str) else None))
    return found


def _cluster_id(csc: Mapping[str, object]) -> str | None:
    # The CSC account imports the CPC's JetStream API as $JS.CPC-<id>.API.> and exports cpc.<id>.>.
    for item in _items(csc.get("imports")):
        owner_of_api = subjects.cpc_jetstream_api_owner(str(_mapping(item).get("to", "")))
        if owner_of_api is not None:
            return owner_of_api
    for item in _items(csc.get("exports")):
        stream = _mapping(item).get("stream")
        if isinstance(stream, str) and stream.endswith(".>"):
            owner = subjects.prefix_owner(stream)
            if owner is not None and owner[1] == ">":
                return owner[0]
    return None


def cross_layer_of_accounts(accounts: Mapping[str, object]) -> DeployedCrossLayer | None:
    """The cross-layer lists a CPC's accounts tree (`accounts {}` of nats.conf) implements; None on a non-CPC layout.

    Read from the imports, which carry every list (the exports mirror them): the CPC account imports each
    cscExports entry as is and each cscPrefixedExports entry from `cpc.<id>.X` to `X`; the CSC account imports
    each cpcExports entry `X` to `cpc.<id>.X`. Imports of any other shape are not cross-layer routing and are
    left out. The JetStream sourcing import `csc2cpc.<id>.>` is generated, not listed, unless it appears twice.
    """
    csc, cpc = accounts.get(naming.CSC), accounts.get(naming.CPC)
    if not isinstance(csc, Mapping) or not isinstance(cpc, Mapping):
        return None
    cluster_id = _cluster_id(csc)
    downward = _stream_imports(cpc, naming.CSC)
    upward = _stream_imports(csc, naming.CPC)
    if cluster_id is None:
        owners = [subjects.prefix_owner(subject) for subject, to in downward if to is not None]
        owners += [subjects.prefix_owner(to) for _, to in upward if to is not None]
        cluster_id = next((owner[0] for owner in owners if owner is not None), None)
    sourcing = subjects.sourcing_deliveries(cluster_id) if cluster_id is not None else None
    generated = [i for i, (subject, to) in enumerate(downward) if subject == sourcing and to in (None, subject)]
    if generated:  # the sourcing import comes after the listed ones; an equal list entry stays a list entry
        del downward[generated[-1]]
    csc_exports: list[str] = []
    prefixed: list[str] = []
    for subject, to in downward:
        if to is None or to == subject:
            csc_exports.append(subject)
        elif cluster_id is not None and subject == subjects.prefixed(cluster_id, to):
            prefixed.append(to)
    cpc_exports = [
        subject
        for subject, to in upward
        if cluster_id is not None and to is not None and to == subjects.prefixed(cluster_id, subject)
    ]
    lists = CrossLayer(
        csc_exports=tuple(csc_exports), csc_prefixed_exports=tuple(prefixed), cpc_exports=tuple(cpc_exports)
    )
    return DeployedCrossLayer(cluster_id, lists)


# ---- nats.conf as the upstream nats chart writes it ------------------------------------------------------------


_BARE_VARIABLE = re.compile(r"\$[A-Za-z_][A-Za-z0-9_]*")


def chart_nats_conf(text: str) -> dict[str, object] | None:
    """The config tree of a `nats.conf` rendered by the upstream nats chart, or None if it is not in that form.

    The chart writes its config as JSON (`toPrettyRawJson`), then unquotes `"<< $VAR >>"` values to `$VAR` and
    turns `"...$include": "file"` keys into `include file;` lines (helper `nats.formatConfig`). This undoes both:
    `$VAR` comes back as the chart value `"<< $VAR >>"` (as `natsconf.chart_merge` writes it), include lines are
    dropped (what they include is another file).
    """
    out: list[str] = []
    at, end = 0, len(text)
    while at < end:
        char = text[at]
        if char == '"':
            close = at + 1
            while close < end and text[close] != '"':
                close += 2 if text[close] == "\\" else 1
            out.append(text[at : close + 1])
            at = close + 1
        elif char == "$":
            match = _BARE_VARIABLE.match(text, at)
            if match is None:
                return None
            out.append(json.dumps(f"<< {match.group(0)} >>"))
            at = match.end()
        elif text.startswith("include", at) and re.match(r"include\s", text[at:]):
            close = text.find(";", at)
            if close < 0:
                return None
            at = close + 1
        else:
            out.append(char)
            at += 1
    # A dropped include may leave a dangling comma before the closing brace.
    cleaned = re.sub(r",(\s*[}\]])", r"\1", "".join(out))
    try:
        tree = json.loads(cleaned)
    except ValueError:
        return None
    return tree if isinstance(tree, dict) else None


# ---- permissions.json --------------------------------------------------------------------------------------------

_ENV_REFERENCE = re.compile(r"^\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?$")


def env_reference(value: str) -> str | None:
    """`${NKEY_LEAF_CPC_a_PUBKEY}` -> `NKEY_LEAF_CPC_a_PUBKEY`: the env var the auth-callout expands a field from."""
    match = _ENV_REFERENCE.fullmatch(value)
    return match.group(1) if match else None


def leaf_key_problem(value: str) -> str | None:
    """Why `value` cannot admit a leaf connection (which signs with a user NKey), or None if it can."""
    if value == "":
        return "is empty, which matches no key"
    try:
        kind = nkeys.kind_of_public_key(value)
    except ValueError as exc:
        return f"is not an NKey public key ({exc})"
    if kind is not nkeys.KeyKind.USER:
        return f"is an {kind.name.lower()} key ({value[:1]}...), but a leaf signs in with a user key (U...)"
    return None


@dataclass(frozen=True)
class Reach:
    """A way a CPC's leaf identity reaches beyond its own CPC (docs/measured-facts.md §3)."""

    direction: str
    """`pub` or `sub`."""
    pattern: str | None
    """The allow entry that reaches out; None when the direction has no allow list (everything is allowed)."""
    witness: str
    """A subject beyond the leaf's own CPC that it may use this way."""
    what: str = "a subject of another CPC"
    """Whose the witness is, in the operator's words."""
    missing_deny: str | None = None
    """Set when the reach comes from a deny entry that is missing, not from an allow entry."""


def _someone_else(cluster_id: str) -> str:
    return subjects.FILLER if cluster_id != subjects.FILLER else subjects.FILLER * 2


def _spaces_of(cluster_id: str) -> tuple[str, ...]:
    """Where one CPC's subjects live on the CSC: its traffic, its stream sourcing (deliveries, the API calls and flow
    control on its own source streams) and its JetStream API (topology)."""
    return (
        subjects.prefixed(cluster_id, ">"),
        subjects.sourcing_deliveries(cluster_id),
        subjects.cpc_jetstream_api(cluster_id),
        *sourcing_flow_control(cluster_id),
        *sourcing_api(cluster_id),
    )


_MQTT_STORE = (
    "the CSC's MQTT store: nats-server lets a leaf's $MQTT. subjects past its allow list, so only a deny of "
    "$MQTT.> keeps it from writing QoS 1 commands to every CPC and reading every stored MQTT message"
)
_MQTT_WITNESS = "$MQTT.msgs.cpc.x.command.x"
_CSC_JETSTREAM = "the CSC's JetStream API (stream admin, other streams' messages, republish into any subject)"
_CSC_WIDE: tuple[tuple[str, str, str], ...] = (
    # (direction, space, what): beyond every CPC's own space, reached through the CSC account itself.
    ("pub", "$JS.API.>", _CSC_JETSTREAM),
    ("pub", f"{subjects.jetstream_api(naming.CSC)}.>", _CSC_JETSTREAM),
    ("pub", f"{SOURCES_API}.>", "the per-CPC source streams (SOURCES account) beyond consumers on its own"),
    ("pub", "$KV.>", "the CSC's key-value buckets"),
    ("pub", "$OBJ.>", "the CSC's object stores"),
    ("sub", "_INBOX.>", "the replies every CSC client receives"),
    ("pub", "_INBOX.>", "the replies every CSC client waits for (a forged answer)"),
)


def _reach(pattern: str, cluster_id: str) -> str | None:
    """A subject of another CPC that `pattern` matches, or None if it stays out of every other CPC's space."""
    tokens = pattern.split(".")
    # A wildcard reaches any CPC (name one that is not ours); a literal id reaches that CPC.
    candidates = [_someone_else(cluster_id)]
    if len(tokens) > 1 and tokens[1] not in ("*", ">"):
        candidates.append(tokens[1].removeprefix(subjects.cpc_domain("")))
    for token in tokens[-2:]:  # `..._cpc_<id>` names another CPC's source stream
        if "_cpc_" in token:
            candidates.append(token.rpartition("_cpc_")[2])
    for other in candidates:
        if other == cluster_id:
            continue
        for space in _spaces_of(other):
            witness = subjects.intersects(pattern, space)
            if witness is not None:
                return witness
    return None


def _csc_wide_reach(direction: str, pattern: str, cluster_id: str) -> Reach | None:
    own = _spaces_of(cluster_id)
    for kind, space, what in _CSC_WIDE:
        if kind != direction:
            continue
        witness = subjects.intersects(pattern, space)
        if witness is not None and not any(subjects.is_subset(pattern, mine) for mine in own):
            return Reach(direction, pattern, witness, what)
    return None


def leaf_reach(cluster_id: str, permissions: object) -> list[Reach]:
    """How a `leaf-cpc-<id>` entry's permissions let CPC `<id>` read or write beyond its own CPC.

    Other CPCs live under `cpc.<other>.>` (their traffic on the CSC), `csc2cpc.<other>.>` and their source
    streams (their stream sourcing) and `$JS.CPC-<other>.API.>` (their JetStream). Beyond every CPC: the CSC's
    JetStream API except consumers on the leaf's own source streams (through it a leaf reads any stream and
    republishes into any subject), and `_INBOX.>` (every CSC client's replies). A direction without an allow
    list allows every subject. Deny lists are not credited: the allow list alone must keep the leaf in its
    own space.
    """
    found: list[Reach] = []
    rules = _mapping(permissions)
    for direction in ("pub", "sub"):
        rule = _mapping(rules.get(direction))
        allow = [p for p in _items(rule.get("allow")) if isinstance(p, str)]
        deny = [p for p in _items(rule.get("deny")) if isinstance(p, str) and subjects.problem(p) is None]
        if allow and not any(subjects.is_subset(LEAF_DENY[0], p) for p in deny):
            # Not a deny credited as confinement: the one place a leaf's allow list is not consulted.
            found.append(Reach(direction, None, _MQTT_WITNESS, _MQTT_STORE, LEAF_DENY[0]))
        if not allow:
            found.append(Reach(direction, None, subjects.prefixed(_someone_else(cluster_id), "command.x")))
            continue
        for pattern in allow:
            if subjects.problem(pattern) is not None:
                continue  # not a subject nats-server would apply; the auth-callout rejects the entry
            witness = _reach(pattern, cluster_id)
            if witness is not None:
                found.append(Reach(direction, pattern, witness))
                continue
            wide = _csc_wide_reach(direction, pattern, cluster_id)
            if wide is not None:
                found.append(wide)
    return found


# ---- auth-callout settings ---------------------------------------------------------------------------------------


def jwks_sources(config: object, env: Mapping[str, str]) -> dict[str, str | None]:
    """Where the auth-callout gets jwks url/issuer/audience from (a readable description), None where unset.

    `config` is the parsed config.yaml; `env` maps the container's env var names to their value, or to a
    description such as "from Secret x" when the value is not in the manifest (taken as set).
    """
    jwks = _mapping(_mapping(config).get("jwks"))
    found: dict[str, str | None] = {}
    for key in naming.JWKS_KEYS:
        source = next((f"env {name}" for name in naming.JWKS_ENV_ALIASES[key] if env.get(name)), None)
        value = jwks.get(key)
        if source is None and isinstance(value, str) and value:
            source = f"config.yaml jwks.{key} = {value!r}"
        found[key] = source
    return found
