"""`dsx-bus doctor`: a running bus, read through its monitoring endpoints, against what its stack config says.

`observe` reads each cluster's endpoints (varz, healthz, accountz, leafz, jsz); `diagnose` is pure and turns what
was observed into findings, each naming what is wrong, where, and the fix.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dsxbus import naming, stackfile, streams, subjects, topology
from dsxbus.config import EventBus
from dsxbus.crosslayer import CrossLayer
from dsxbus.errors import DsxBusError
from dsxbus.fleet import resolve

STALLED_AFTER_NS = 5_000_000_000
"""A stream source not heard from for this long is stalled: a flowing source hears from its origin every second
(heartbeats; measured on the local federation: `active` stays below 1 s while healthy)."""

ENDPOINTS = {
    "varz": "varz",
    "healthz": "healthz?js-enabled-only=true",
    "accountz": "accountz",
    "leafz": "leafz?subs=1",
    "jsz": "jsz?accounts=true&streams=true&config=true",
    "connz": "connz?auth=true&limit=4096",  # with auth: each connection's signed-in user, leafs included
}


@dataclass(frozen=True)
class Finding:
    stack: str
    where: str
    """The endpoint, leaf, account or stream the finding is about."""
    what: str
    fix: str

    def __str__(self) -> str:
        return f"{self.stack}: {self.where}: {self.what}. Fix: {self.fix}"

    def as_json(self) -> dict[str, str]:
        return {"stack": self.stack, "where": self.where, "what": self.what, "fix": self.fix}


@dataclass(frozen=True)
class Target:
    """Where one stack's servers are watched, and the nats-server version they must run."""

    stack: str
    urls: tuple[str, ...]
    version: str | None
    leaf_keys: Mapping[str, str] = field(default_factory=dict)
    """CPC: account -> the public key its leaf signs in to the CSC with, where known (the local federation's
    state; a deployment's CPC stack exports them as leafPublicKeys)."""


@dataclass
class Observed:
    """What one cluster's monitoring endpoints answered, each server's answers side by side."""

    answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    """URL -> endpoint name -> its JSON."""
    unreachable: dict[str, str] = field(default_factory=dict)
    """URL -> why it did not answer."""

    def each(self, endpoint: str) -> list[dict[str, Any]]:
        return [a[endpoint] for a in self.answers.values() if endpoint in a]


def _get(url: str, timeout: float) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            data: dict[str, Any] = json.loads(response.read())
    except urllib.error.HTTPError as exc:  # healthz answers 503 with the reason as JSON
        data = json.loads(exc.read() or b"{}")
    return data


def observe(urls: Iterable[str], timeout: float) -> Observed:
    observed = Observed()
    for url in urls:
        base = url.rstrip("/")
        try:
            answer = {name: _get(f"{base}/{path}", timeout) for name, path in ENDPOINTS.items()}
            names = [n for n in answer["accountz"].get("accounts") or () if n != "$G"]
            details = {n: _get(f"{base}/accountz?acc={urllib.parse.quote(n)}", timeout) for n in names}
            answer["account_detail"] = {n: d.get("account_detail") or {} for n, d in details.items()}
            observed.answers[url] = answer
        except (OSError, ValueError) as exc:
            observed.unreachable[url] = str(getattr(exc, "reason", exc))
    return observed


# ---- what must be there ------------------------------------------------------------------------------------------


def diagnose(
    stack: str,
    bus: EventBus,
    version: str | None,
    observed: Observed,
    cpcs: Mapping[str, EventBus],
    leaf_keys: Mapping[str, Mapping[str, str]] | None = None,
) -> list[Finding]:
    """Every way the observed cluster differs from `bus`; `cpcs` are the CPCs (by id) whose leafs the CSC must have,
    `leaf_keys` (CPC id -> account -> public key) the identities those leafs must sign in with, where known."""
    found = [
        Finding(
            stack,
            url,
            f"the monitoring endpoint does not answer ({why})",
            "check that the server runs (`dsx-bus local status`, or `kubectl get pods -n "
            f"{bus.namespace}`) and that this is its monitoring port (8222), or name another with --monitor",
        )
        for url, why in observed.unreachable.items()
    ]
    for url, answer in observed.answers.items():
        found += _server(stack, bus, version, url, answer)
    if not observed.answers:
        return found
    lists = {cid: cpc.effective_cross_layer for cid, cpc in cpcs.items()}
    found += _accounts(stack, bus, observed, lists)
    found += _routing(stack, bus, observed, lists)
    if bus.cluster_type == "csc":
        found += _csc_leafs(stack, cpcs, observed, leaf_keys or {})
    else:
        found += _cpc_leafs(stack, bus, observed)
    found += _identities(stack, bus, observed)
    found += _streams(stack, bus, observed, cpcs)
    return found


def _server(stack: str, bus: EventBus, version: str | None, url: str, answer: Mapping[str, Any]) -> list[Finding]:
    found = []
    varz, health = answer["varz"], answer["healthz"]
    name = varz.get("server_name", url)
    if health.get("status") != "ok":
        why = health.get("error") or json.dumps(health.get("errors") or health)
        found.append(
            Finding(stack, f"server {name}", f"healthz is {health.get('status')!r}: {why}", "read the server's log")
        )
    if version is not None and varz.get("version") != version:
        found.append(
            Finding(
                stack,
                f"server {name}",
                f"runs nats-server {varz.get('version')}, but {version} is deployed (images.nats = {bus.images.nats})",
                "roll the pods onto the deployed image (`kubectl rollout restart statefulset/nats`), or set "
                "images.nats to the version that runs",
            )
        )
    domain = (varz.get("jetstream") or {}).get("config", {}).get("domain")
    if domain != bus.domain_account:
        found.append(
            Finding(
                stack,
                f"server {name}",
                f"JetStream domain is {domain!r}, expected {bus.domain_account!r}: the CPCs' stream sources and "
                "the `$JS.<domain>.API` mappings name that domain",
                "deploy the rendered nats.conf (`dsx-bus render`), whose jetstream.domain is set",
            )
        )
    return found


def _accounts(stack: str, bus: EventBus, observed: Observed, cpc_lists: Mapping[str, CrossLayer]) -> list[Finding]:
    present = set().union(*(set(a.get("accounts") or ()) for a in observed.each("accountz")))
    expected = [a.name for a in topology.cluster_accounts(bus, cpc_lists)]
    return [
        Finding(
            stack,
            f"account {name}",
            "is missing on the server",
            "deploy the rendered nats.conf (`dsx-bus render`); its accounts block defines it",
        )
        for name in expected
        if name not in present
    ]


_RELOAD = (
    "the server runs another config than the stack's: deploy the rendered nats.conf (`dsx-bus render`; the "
    "reloader applies it) and look for a failed reload in the server's log"
)


def _routing(stack: str, bus: EventBus, observed: Observed, cpc_lists: Mapping[str, CrossLayer]) -> list[Finding]:
    """The imports, exports and mappings each account actually has, against the rendered ones: a config change
    that did not load (a failed reload keeps the old routes) shows here, cross-layer lists included."""
    found = []
    loaded: dict[str, Mapping[str, Any]] = {}
    for details in observed.each("account_detail"):
        for name, detail in details.items():
            loaded.setdefault(name, detail)
    accounts = topology.cluster_accounts(bus, cpc_lists)
    ours = {a.name for a in accounts}
    for account in accounts:
        detail = loaded.get(account.name)
        if detail is None:
            continue  # reported as a missing account
        exports = {(e.get("type"), e.get("subject")) for e in detail.get("exports") or ()}
        imports = {
            (i.get("type"), i.get("account"), i.get("subject"), i.get("local_subject"))
            for i in detail.get("imports") or ()
        }
        mappings = {(src, d.get("subject")) for src, dests in (detail.get("mappings") or {}).items() for d in dests}
        where = f"account {account.name}"
        for export in account.exports:
            if (export.kind, export.subject) not in exports:
                found.append(Finding(stack, where, f"does not export {export.kind} {export.subject!r}", _RELOAD))
        expected = {(i.kind, i.account, i.subject, i.to or i.subject) for i in account.imports}
        for kind, source, subject, local in sorted(expected - imports):
            found.append(
                Finding(stack, where, f"does not import {kind} {subject!r} from {source} as {local!r}", _RELOAD)
            )
        for kind, source, subject, local in sorted(i for i in imports - expected if i[1] in ours):
            found.append(
                Finding(
                    stack, where, f"imports {kind} {subject!r} from {source} as {local!r}, not in its config", _RELOAD
                )
            )
        for src, dest in account.mappings:
            if (src, dest) not in mappings:
                found.append(Finding(stack, where, f"does not map {src!r} to {dest!r}", _RELOAD))
        found += [
            Finding(stack, where, f"has an invalid import {i.get('subject')!r} from {i.get('account')}", _RELOAD)
            for i in detail.get("imports") or ()
            if i.get("invalid")
        ]
    return found


def _leafs(observed: Observed) -> list[dict[str, Any]]:
    return [leaf for leafz in observed.each("leafz") for leaf in leafz.get("leafs") or ()]


def _carries_routing_of(leaf: Mapping[str, Any]) -> str | None:
    """The CPC whose leaf this is, by what it subscribes to: each CPC's leaf into its account on the CSC carries its
    own `$JS.CPC-<id>.API.>` (topology.cpc_accounts), whatever its server is named (pods are all `nats-N`)."""
    owners = {subjects.cpc_jetstream_api_owner(s) for s in leaf.get("subscriptions_list") or ()}
    owners.discard(None)
    return next(iter(owners)) if len(owners) == 1 else None


def _signed_in_as(observed: Observed) -> dict[int, str]:
    """Connection id -> the user it signed in as (an nkey's public key), leaf connections included."""
    return {
        c["cid"]: c["authorized_user"]
        for connz in observed.each("connz")
        for c in connz.get("connections") or ()
        if c.get("authorized_user")
    }


def _identities(stack: str, bus: EventBus, observed: Observed) -> list[Finding]:
    """Every connection of an operator nkey identity is in the account its permissions.json entry names."""
    entries = {e.public_key: (name, e.account) for name, e in bus.auth.permissions.nkey.items()}
    found = []
    for connz in observed.each("connz"):
        for conn in connz.get("connections") or ():
            name, account = entries.get(conn.get("authorized_user") or "", (None, None))
            if name is not None and conn.get("account") != account:
                found.append(
                    Finding(
                        stack,
                        f"connection {conn.get('cid')} of nkey identity {name!r}",
                        f"is in account {conn.get('account')}, but auth.permissions.nkey.{name}.account is {account}",
                        "deploy the rendered permissions.json (the auth-callout re-reads it every 5 s)",
                    )
                )
    return found


def _csc_leafs(
    stack: str, cpcs: Mapping[str, EventBus], observed: Observed, leaf_keys: Mapping[str, Mapping[str, str]]
) -> list[Finding]:
    found = []
    leafs = _leafs(observed)
    users = _signed_in_as(observed)
    for cluster_id, cpc in cpcs.items():
        ours = [leaf for leaf in leafs if _carries_routing_of(leaf) == cluster_id]
        lands_in = naming.cpc_account(cluster_id)
        main = next((leaf for leaf in ours if leaf.get("account") == lands_in), None)
        if main is None:
            wrong = ", ".join(sorted({str(leaf.get("account")) for leaf in ours}))
            found.append(
                Finding(
                    stack,
                    f"leaf from CPC {cluster_id} ({cpc.cluster_name})",
                    f"is in account {wrong}, not {lands_in}"
                    if ours
                    else f"is not connected in account {lands_in}: nothing crosses between the CSC and CPC "
                    f"{cluster_id}, and its stream sources stall",
                    f"check that CPC {cluster_id}'s nats runs and reaches the CSC's leaf endpoint, and that its leaf "
                    f"key is the one the CSC admits (its stack exports leafPublicKeys; `pulumi up` the CSC after it)",
                )
            )
            continue
        # Its other leafs come from the same server: the same name and address, one per extra account.
        same = [leaf for leaf in leafs if (leaf.get("name"), leaf.get("ip")) == (main.get("name"), main.get("ip"))]
        keys = leaf_keys.get(cluster_id, {})
        for leaf in same:
            # The CPC names its leafs by the account they bind to there: CSC (its window) lands in CPC-<id>.
            account = naming.CSC if leaf.get("account") == lands_in else str(leaf.get("account"))
            want, got = keys.get(account), users.get(leaf.get("id", -1))
            if want is not None and got is not None and got != want:
                found.append(
                    Finding(
                        stack,
                        f"leaf from CPC {cluster_id} ({cpc.cluster_name}) in account {leaf.get('account')}",
                        f"signed in as {got}, not as CPC {cluster_id}'s leaf key {want}",
                        f"check which key CPC {cluster_id}'s leaf Secret holds and which the CSC admits "
                        f"(auth.permissions: {naming.leaf_permission(cluster_id)})",
                    )
                )
        for account in cpc.enabled_extra_accounts:
            if not any(leaf.get("account") == account for leaf in same):
                found.append(
                    Finding(
                        stack,
                        f"leaf from CPC {cluster_id} ({cpc.cluster_name}) in account {account}",
                        "is not connected: that application account does not cross between them",
                        f"check CPC {cluster_id}'s log for the {account} remote (its key, the account on the CSC)",
                    )
                )
    return found


def _cpc_leafs(stack: str, bus: EventBus, observed: Observed) -> list[Finding]:
    spokes = {leaf.get("account") for leaf in _leafs(observed) if leaf.get("is_spoke")}
    return [
        Finding(
            stack,
            f"leaf to the CSC in account {account}",
            "is not connected: nothing crosses between this CPC and the CSC in that account",
            "check the CSC's leaf endpoint (cscEndpoint / the CSC's leafEndpoint), TLS, and that the CSC admits "
            "this CPC's leaf key (`pulumi up` the CSC after this CPC)",
        )
        for account in (naming.CSC, *bus.enabled_extra_accounts)
        if account not in spokes
    ]


def _observed_streams(observed: Observed) -> dict[tuple[str, str], list[dict[str, Any]]]:
    found: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for jsz in observed.each("jsz"):
        for account in jsz.get("account_details") or ():
            for stream in account.get("stream_detail") or ():
                found.setdefault((account.get("name", ""), stream.get("name", "")), []).append(stream)
    return found


def _streams(stack: str, bus: EventBus, observed: Observed, cpcs: Mapping[str, EventBus]) -> list[Finding]:
    found = []
    seen = _observed_streams(observed)
    js_accounts = {a.get("name") for jsz in observed.each("jsz") for a in jsz.get("account_details") or ()}
    lists = {cid: cpc.effective_cross_layer for cid, cpc in cpcs.items()}
    for stream in streams.mqtt_streams(bus, lists):
        account = stream.account or bus.domain_account
        copies = seen.get((account, stream.name))
        if not copies:
            found.append(
                Finding(
                    stack,
                    f"stream {stream.name} in account {account}",
                    "is missing: MQTT QoS 1 and retained messages have nowhere to go",
                    f"check NACK's Stream {stream.resource_name} (`kubectl get streams -n {bus.namespace}`); locally "
                    "`dsx-bus local down && dsx-bus local up` creates them",
                )
            )
            continue
        for source in stream.sources:
            found += _source(stack, account, stream.name, source.name, copies)
    if bus.cluster_type == "csc":
        found += [
            Finding(
                stack,
                f"account {name}",
                "has no JetStream, but extraAccounts says jetstream: true",
                "deploy the rendered nats.conf (`dsx-bus render`)",
            )
            for name in bus.enabled_extra_accounts
            if bus.extra_accounts[name].jetstream and name not in js_accounts
        ]
    return found


def _source(stack: str, account: str, stream: str, origin: str, copies: Sequence[Mapping[str, Any]]) -> list[Finding]:
    infos = [s for copy in copies for s in copy.get("sources") or () if s.get("name") == origin]
    where = f"stream {stream} in account {account}, source {origin}"
    if not infos:
        return [Finding(stack, where, "is not configured on the stream", "re-apply the Stream (NACK) with its sources")]
    # Replicas report the same source; the one heard from most recently speaks for the stream.
    best = min(infos, key=lambda s: s.get("active", -1) if s.get("active", -1) >= 0 else 2**62)
    active, lag = best.get("active", -1), best.get("lag", 0)
    error = (best.get("error") or {}).get("description")
    if error:
        return [Finding(stack, where, f"fails: {error} (lag {lag})", "read the server's log for the source")]
    if active < 0 or active > STALLED_AFTER_NS:
        heard = "never heard from its origin" if active < 0 else f"last heard from its origin {active / 1e9:.1f} s ago"
        return [
            Finding(
                stack,
                where,
                f"is stalled: {heard}, {lag} message(s) behind",
                "check the leaf connection between the CSC and this CPC (`dsx-bus doctor` on both) and that the "
                "origin stream exists; the source resumes by itself once it can reach it",
            )
        ]
    return []


# ---- where to look -----------------------------------------------------------------------------------------------


def targets(
    stacks: Mapping[str, stackfile.Stack],
    monitors: Sequence[str],
    run_dir: Path | None,
    project_dir: Path,
    names: Sequence[str] = (),
) -> tuple[dict[str, Target], frozenset[str]]:
    """Each stack's monitoring URLs: `--monitor STACK=URL`, else the stack's `monitoring.monitorUrls`, else the
    local federation's (its nats-server version is then the one that must run); and the stacks the local
    federation does not run (`local up --stacks` left them out: nothing of them is expected)."""
    given: dict[str, list[str]] = {}
    for item in monitors:
        stack, sep, url = item.partition("=")
        if not sep or not url:
            raise DsxBusError(f"--monitor {item!r}: expected STACK=URL, e.g. --monitor csc=http://127.0.0.1:8222")
        if stack not in stacks:
            raise DsxBusError(f"--monitor {item!r}: no stack {stack!r} (stacks: {', '.join(stacks)})")
        given.setdefault(stack, []).append(url)
    chosen = list(names) or list(stacks)
    found: dict[str, Target] = {}
    absent: set[str] = set()
    local: Any = None
    for name in chosen:
        bus = stacks[name].bus
        urls = given.get(name) or list(bus.monitoring.monitor_urls)
        if urls:
            found[name] = Target(name, tuple(urls), bus.nats_server_version)
            continue
        if local is None:
            local = _local_federation(run_dir, project_dir)
            absent = set(stacks) - set(local.clusters)
        if name not in local.clusters:
            if not names:
                continue
            raise DsxBusError(f"no monitoring endpoint for {name!r}: pass --monitor {name}=http://HOST:8222")
        keys = {a: k.public_key for a, k in local.keys[name].leaf.items()} if name in local.keys else {}
        found[name] = Target(name, (local.clusters[name].main.url("http"),), local.nats_version or None, keys)
    return found, frozenset(absent)


def _local_federation(run_dir: Path | None, project_dir: Path) -> Any:
    from dsxbus.local import state

    directory = run_dir or state.default_run_dir(project_dir)
    if not state.is_run_dir(directory):
        raise DsxBusError(
            f"no monitoring endpoints: no --monitor STACK=URL, no monitoring.monitorUrls, and no local federation in "
            f"{directory} (`dsx-bus local up`, or --run-dir)"
        )
    return state.load(directory)


def examine(
    stacks: Mapping[str, stackfile.Stack],
    where: Mapping[str, Target],
    timeout: float,
    absent: frozenset[str] = frozenset(),
) -> list[Finding]:
    """Observe every target and diagnose it against its resolved stack config; a CSC must have a leaf from every
    CPC it lists that has a stack file, unless that stack is `absent`."""
    resolved = {name: resolve(stacks, name).bus for name in stacks}
    found: list[Finding] = []
    for name, target in where.items():
        bus = resolved[name]
        cpcs: dict[str, EventBus] = {}
        if bus.cluster_type == "csc":
            by_id = {b.cluster_id: b for n, b in resolved.items() if b.cluster_type == "cpc" and n not in absent}
            cpcs = {cid: by_id[cid] for cid in bus.cpc_ids if cid in by_id}
        leaf_keys = {resolved[n].cluster_id or "": t.leaf_keys for n, t in where.items() if t.leaf_keys}
        found += diagnose(name, bus, target.version, observe(target.urls, timeout), cpcs, leaf_keys)
    return found
