"""The federation as a picture: clusters, their accounts, leaf connections and every cross-layer route, drawn from
the same topology the servers are configured from, as SVG, Mermaid or Graphviz DOT."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Literal

from dsxbus import fleet, naming, stackfile, subjects, topology
from dsxbus.config import EventBus
from dsxbus.errors import DsxBusError

EdgeKind = Literal["leaf", "cscExports", "cscPrefixedExports", "cpcExports", "streamSource"]
Format = Literal["svg", "mermaid", "dot"]
FORMATS: tuple[Format, ...] = ("svg", "mermaid", "dot")
_HIDDEN_ACCOUNTS = frozenset({naming.SYS, naming.AUTH, naming.AUTHX})
"""The auth-callout's and the system accounts: in every cluster alike, and no route crosses through them."""


@dataclass(frozen=True)
class Node:
    id: str
    cluster: str
    account: str


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    kind: EdgeKind
    label: str


@dataclass(frozen=True)
class Cluster:
    name: str
    """`csc` or `cpc-<id>`."""
    title: str
    nodes: tuple[Node, ...]


@dataclass(frozen=True)
class Picture:
    csc: Cluster
    cpcs: tuple[Cluster, ...]
    edges: tuple[Edge, ...]

    @property
    def clusters(self) -> tuple[Cluster, ...]:
        return (self.csc, *self.cpcs)


def node_id(cluster: str, account: str) -> str:
    return f"{cluster}/{account}"


def _cluster(name: str, title: str, accounts: tuple[topology.Account, ...]) -> Cluster:
    shown = (a.name for a in accounts if a.name not in _HIDDEN_ACCOUNTS)
    return Cluster(name, title, tuple(Node(node_id(name, a), name, a) for a in shown))


def _cpc_buses(stacks: Mapping[str, stackfile.Stack]) -> list[EventBus]:
    return [fleet.resolve(stacks, n).bus for n, s in stacks.items() if s.bus.cluster_type == "cpc"]


def federation(stacks: Mapping[str, stackfile.Stack], only: Sequence[str] = ()) -> Picture:
    """The picture of these stacks around their CSC: every CPC, or those named in `only`."""
    csc_stack = fleet.csc_stack(stacks)
    if csc_stack is None:
        raise DsxBusError(f"no CSC among the stacks {', '.join(stacks)}: the picture is drawn around the CSC")
    csc_name = next(n for n, s in stacks.items() if s is csc_stack)
    csc = fleet.resolve(stacks, csc_name).bus
    csc_title = f"{csc.cluster_name} (JetStream domain {csc.domain_account})"
    csc_lists = {b.cluster_id or "": b.effective_cross_layer for b in _cpc_buses(stacks)}
    csc_cluster = _cluster(csc.cluster_name, csc_title, topology.cluster(csc, cpc_lists=csc_lists).accounts)
    cpcs: list[Cluster] = []
    edges: list[Edge] = []
    unknown = [n for n in only if n not in stacks]
    if unknown:
        raise DsxBusError(f"no stack {', '.join(map(repr, unknown))}: expected Pulumi.<stack>.yaml for each")
    for name in sorted(n for n, s in stacks.items() if s.bus.cluster_type == "cpc" and (not only or n in only)):
        bus = fleet.resolve(stacks, name).bus
        cluster_id = bus.cluster_id or ""
        model = topology.cluster(bus, csc_endpoint=csc.leaf_endpoint or "nats://csc:7422")
        title = f"{bus.cluster_name} (JetStream domain {bus.domain_account})"
        cpcs.append(_cluster(bus.cluster_name, title, model.accounts))
        here, there = bus.cluster_name, csc.cluster_name
        for remote in model.leaf_remotes:  # the CPC dials; the CSC's auth-callout admits it into its account there
            lands_in = naming.cpc_account(cluster_id) if remote.account == naming.CSC else remote.account
            label = f"account {remote.account} → {lands_in}" if lands_in != remote.account else f"account {lands_in}"
            edges.append(Edge(node_id(here, remote.account), node_id(there, lands_in), "leaf", label))
        lists, prefix = bus.effective_cross_layer, subjects.cpc_prefix(cluster_id)
        cpc_account, csc_account = node_id(here, naming.CPC), node_id(there, naming.CSC)
        edges += [Edge(csc_account, cpc_account, "cscExports", s) for s in lists.csc_exports]
        edges += [
            Edge(csc_account, cpc_account, "cscPrefixedExports", f"{prefix}{s} → {s}")
            for s in lists.csc_prefixed_exports
        ]
        edges += [Edge(cpc_account, csc_account, "cpcExports", f"{s} → {prefix}{s}") for s in lists.cpc_exports]
        sourced = ", ".join(topology.cpc_source_stream(kind, cluster_id) for kind in topology.SOURCED_KINDS)
        edges.append(Edge(node_id(there, naming.SOURCES), cpc_account, "streamSource", f"MQTT sources: {sourced}"))
    return Picture(csc_cluster, tuple(cpcs), tuple(edges))


_STYLE: dict[EdgeKind, tuple[str, str]] = {
    # kind: (colour, dash pattern)
    "leaf": ("#6b7280", "6 4"),
    "cscExports": ("#2563eb", ""),
    "cscPrefixedExports": ("#7c3aed", ""),
    "cpcExports": ("#059669", ""),
    "streamSource": ("#d97706", "2 3"),
}
_LEGEND: dict[EdgeKind, str] = {
    "leaf": "leaf connection (the CPC dials)",
    "cscExports": "cscExports: CSC X → every CPC as X",
    "cscPrefixedExports": "cscPrefixedExports: CSC cpc.<id>.X → that CPC as X",
    "cpcExports": "cpcExports: CPC X → CSC as cpc.<id>.X",
    "streamSource": "MQTT stream sources (QoS 1, retained)",
}


def mermaid(picture: Picture) -> str:
    def ident(node: str) -> str:
        return node.replace("/", "__").replace("-", "_")

    def text(value: str) -> str:
        return value.replace('"', "#quot;")

    lines = ["flowchart TB"]
    for cluster in picture.clusters:
        lines.append(f'  subgraph {ident(cluster.name)}["{text(cluster.title)}"]')
        lines += [f'    {ident(n.id)}["{text(n.account)}"]' for n in cluster.nodes]
        lines.append("  end")
    for edge in picture.edges:
        arrow = "-.->" if edge.kind in ("leaf", "streamSource") else "-->"
        lines.append(f'  {ident(edge.source)} {arrow}|"{text(edge.kind)}: {text(edge.label)}"| {ident(edge.target)}')
    return "\n".join(lines) + "\n"


def dot(picture: Picture) -> str:
    def quoted(value: str) -> str:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = ["digraph federation {", "  rankdir=TB;", "  node [shape=box, style=rounded];"]
    for cluster in picture.clusters:
        lines.append(f"  subgraph {quoted('cluster_' + cluster.name)} {{")
        lines.append(f"    label={quoted(cluster.title)};")
        lines += [f"    {quoted(n.id)} [label={quoted(n.account)}];" for n in cluster.nodes]
        lines.append("  }")
    for edge in picture.edges:
        colour, dash = _STYLE[edge.kind]
        style = ", style=dashed" if dash else ""
        label = quoted(f"{edge.kind}: {edge.label}")
        lines.append(
            f"  {quoted(edge.source)} -> {quoted(edge.target)} [label={label}, color={quoted(colour)}{style}];"
        )
    lines.append("}")
    return "\n".join(lines) + "\n"


# SVG layout: the CSC on top across the whole width, its CPCs side by side below, the routes in between.
_NODE_W, _NODE_H, _PAD, _COLUMN, _GAP_TOP, _LABEL_STEP = 150, 34, 16, 560, 70, 22
_CHAR_W = 6.6  # of the 11 px monospace labels


def svg(picture: Picture) -> str:
    columns = max(1, len(picture.cpcs))
    width = columns * _COLUMN + 2 * _PAD
    positions: dict[str, tuple[float, float]] = {}
    parts: list[str] = []

    def box(x: float, y: float, w: float, h: float, title: str) -> None:
        parts.append(f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="10" fill="#f9fafb" stroke="#9ca3af"/>')
        parts.append(f'<text x="{x + 10}" y="{y + 18}" class="cluster">{escape(title)}</text>')

    def place(cluster: Cluster, left: float, top: float, span: float) -> None:
        step = span / max(1, len(cluster.nodes))
        for i, node in enumerate(cluster.nodes):
            x, y = left + i * step + (step - _NODE_W) / 2, top + 32
            positions[node.id] = (x + _NODE_W / 2, y)
            parts.append(
                f'<g class="account" data-id="{escape(node.id)}"><rect x="{x}" y="{y}" width="{_NODE_W}" '
                f'height="{_NODE_H}" rx="6" fill="#ffffff" stroke="#374151"/>'
                f'<text x="{x + _NODE_W / 2}" y="{y + 22}" text-anchor="middle">{escape(node.account)}</text></g>'
            )

    cluster_h = 32 + _NODE_H + 18
    box(_PAD, _PAD, width - 2 * _PAD, cluster_h, picture.csc.title)
    place(picture.csc, _PAD, _PAD, width - 2 * _PAD)
    # Every route label gets a row of its own between the CSC and the CPCs: none hides another.
    cpc_top = _PAD + cluster_h + _GAP_TOP + len(picture.edges) * _LABEL_STEP
    for i, cluster in enumerate(picture.cpcs):
        left = _PAD + i * _COLUMN + 8
        box(left, cpc_top, _COLUMN - 16, cluster_h, cluster.title)
        place(cluster, left, cpc_top, _COLUMN - 16)
    row = 0
    for cluster in picture.cpcs:
        ours = [e for e in picture.edges if _cpc_of(e, picture) == cluster.name]
        for j, edge in enumerate(ours):
            parts.append(_svg_edge(edge, positions, j, len(ours), _PAD + cluster_h + 50 + row * _LABEL_STEP))
            row += 1
    legend_top = cpc_top + cluster_h + 30
    for i, (kind, text) in enumerate(_LEGEND.items()):
        colour, dash = _STYLE[kind]
        y = legend_top + i * 18
        parts.append(
            f'<line x1="{_PAD}" y1="{y}" x2="{_PAD + 40}" y2="{y}" stroke="{colour}" stroke-width="2" '
            f'stroke-dasharray="{dash}" marker-end="url(#arrow-{kind})"/>'
            f'<text x="{_PAD + 50}" y="{y + 4}" class="legend">{escape(text)}</text>'
        )
    height = legend_top + len(_LEGEND) * 18 + _PAD
    markers = "".join(
        f'<marker id="arrow-{kind}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        f'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="{colour}"/></marker>'
        for kind, (colour, _) in _STYLE.items()
    )
    style = (
        "text{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;fill:#111827}"
        "text.cluster{font-weight:bold;font-size:13px}text.route{font-size:11px}text.legend{font-size:11px}"
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="dsx-bus federation">'
        f"<title>dsx-bus federation</title><defs>{markers}</defs><style>{style}</style>"
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>' + "\n".join(parts) + "\n</svg>\n"
    )


def _cpc_of(edge: Edge, picture: Picture) -> str:
    return next(c.name for c in picture.cpcs if any(n.id in (edge.source, edge.target) for n in c.nodes))


def _svg_edge(edge: Edge, positions: Mapping[str, tuple[float, float]], index: int, count: int, label_y: float) -> str:
    (sx, sy), (tx, ty) = positions[edge.source], positions[edge.target]
    spread = (index - (count - 1) / 2) * (_NODE_W / max(1, count))
    csc_end_down = sy < ty  # the CSC is on top: leave its node's bottom, enter the CPC node's top
    x1, y1 = sx + spread, sy + (_NODE_H if csc_end_down else 0)
    x2, y2 = tx + spread, ty + (0 if csc_end_down else _NODE_H)
    colour, dash = _STYLE[edge.kind]
    label = f"{edge.kind}: {edge.label}"
    t = (label_y - y1) / (y2 - y1) if y2 != y1 else 0.5
    lx = x1 + t * (x2 - x1)
    w = len(label) * _CHAR_W + 8
    return (
        f'<g class="edge {edge.kind}" data-from="{escape(edge.source)}" data-to="{escape(edge.target)}" '
        f'data-kind="{edge.kind}" data-label="{escape(edge.label)}"><title>{escape(label)}</title>'
        f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{colour}" stroke-width="1.6" '
        f'stroke-dasharray="{dash}" marker-end="url(#arrow-{edge.kind})"/>'
        f'<rect x="{lx - w / 2:.1f}" y="{label_y - 11:.1f}" width="{w:.1f}" height="15" rx="3" fill="#ffffff" '
        f'fill-opacity="0.9"/><text x="{lx:.1f}" y="{label_y:.1f}" text-anchor="middle" class="route" '
        f'style="fill:{colour}">{escape(label)}</text></g>'
    )


def draw(picture: Picture, fmt: Format) -> str:
    return {"svg": svg, "mermaid": mermaid, "dot": dot}[fmt](picture)
