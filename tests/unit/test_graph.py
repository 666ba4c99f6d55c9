"""The federation's picture (dsxbus.graph, `dsx-bus graph`): every cluster, account, leaf and cross-layer route of
the stacks, in well-formed SVG, Mermaid and DOT; the README's picture is the command's output."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from dsxbus import cli, fleet, graph
from tests.unit.stackconfigs import ROOT, example_fleet

SVG = "{http://www.w3.org/2000/svg}"


def _routes_from_the_stack_files() -> set[tuple[str, str, str, str]]:
    """The oracle: each CPC's effective lists as written in the stack files (cpc-a inherits the CSC's)."""
    expected = set()
    for stack, cid, lists in (
        (
            "cpc-a",
            "a",
            {"cscExports": ["broadcast.>"], "cscPrefixedExports": ["command.>"], "cpcExports": ["sensor.>"]},
        ),
        (
            "cpc-b",
            "b",
            {
                "cscExports": ["broadcast.>"],
                "cscPrefixedExports": ["command.>"],
                "cpcExports": ["sensor.>", "status.>"],
            },
        ),
    ):
        expected |= {("csc/CSC", f"{stack}/CPC", "cscExports", s) for s in lists["cscExports"]}
        expected |= {
            ("csc/CSC", f"{stack}/CPC", "cscPrefixedExports", f"cpc.{cid}.{s} → {s}")
            for s in lists["cscPrefixedExports"]
        }
        expected |= {(f"{stack}/CPC", "csc/CSC", "cpcExports", f"{s} → cpc.{cid}.{s}") for s in lists["cpcExports"]}
        # A CPC's CSC window leaf lands in its own account on the CSC (topology.csc_accounts).
        expected.add((f"{stack}/CSC", f"csc/CPC-{cid}", "leaf", f"account CSC → CPC-{cid}"))
        expected.add((f"{stack}/LaunchLayer", "csc/LaunchLayer", "leaf", "account LaunchLayer"))
        expected.add(
            ("csc/SOURCES", f"{stack}/CPC", "streamSource", f"MQTT sources: MQTT_msgs_cpc_{cid}, MQTT_rmsgs_cpc_{cid}")
        )
    return expected


def _picture() -> graph.Picture:
    return graph.federation(fleet.load(ROOT))


def _edges(root: Any) -> set[tuple[str, str, str, str]]:
    return {
        (g.get("data-from"), g.get("data-to"), g.get("data-kind"), g.get("data-label"))
        for g in root.iter(f"{SVG}g")
        if (g.get("class") or "").startswith("edge ")
    }


def test_the_svg_is_well_formed_and_draws_every_route_of_the_example_fleet() -> None:
    root = ET.fromstring(graph.svg(_picture()))  # raises on anything not well formed
    assert root.tag == f"{SVG}svg"
    assert _edges(root) == _routes_from_the_stack_files()


def test_every_route_label_is_visible_text_naming_its_list_and_subjects() -> None:
    root = ET.fromstring(graph.svg(_picture()))
    texts = {t.text for t in root.iter(f"{SVG}text")}
    for _, _, kind, label in _routes_from_the_stack_files():
        assert f"{kind}: {label}" in texts


def test_every_cluster_and_its_routing_accounts_are_drawn() -> None:
    root = ET.fromstring(graph.svg(_picture()))
    accounts = {g.get("data-id") for g in root.iter(f"{SVG}g") if g.get("class") == "account"}
    assert accounts == {
        "csc/CSC",
        "csc/SOURCES",
        "csc/CPC-a",
        "csc/CPC-b",
        "csc/LaunchLayer",
        *(f"{c}/{a}" for c in ("cpc-a", "cpc-b") for a in ("CSC", "CPC", "LaunchLayer")),
    }


def test_a_cross_layer_entry_added_to_a_stack_appears_as_its_own_arrow(tmp_path: Path) -> None:
    def more(bus: dict[str, Any]) -> None:
        bus["crossLayer"]["cpcExports"].append("alarm.>")

    stacks = fleet.load(example_fleet(tmp_path, cpc_b=more))
    edges = _edges(ET.fromstring(graph.svg(graph.federation(stacks))))
    assert ("cpc-b/CPC", "csc/CSC", "cpcExports", "alarm.> → cpc.b.alarm.>") in edges


def test_mermaid_and_dot_name_every_route_too() -> None:
    picture = _picture()
    for text in (graph.mermaid(picture), graph.dot(picture)):
        for _, _, kind, label in _routes_from_the_stack_files():
            assert f"{kind}: {label}" in text


def test_naming_a_cpc_draws_it_with_its_csc_only() -> None:
    picture = graph.federation(fleet.load(ROOT), ["cpc-b"])
    assert [c.name for c in picture.clusters] == ["csc", "cpc-b"]
    assert all("cpc-a" not in e.source + e.target for e in picture.edges)


def test_an_unknown_stack_is_a_clean_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--dir", str(ROOT), "graph", "cpc-x"]) == 1
    assert "error: no stack 'cpc-x'" in capsys.readouterr().err


def test_the_picture_in_docs_is_what_dsx_bus_graph_draws(tmp_path: Path) -> None:
    """docs/federation.svg (shown in the README) is regenerated with `dsx-bus graph --out docs/federation.svg`."""
    out = tmp_path / "federation.svg"
    assert cli.main(["--dir", str(ROOT), "graph", "--out", str(out)]) == 0
    assert (ROOT / "docs" / "federation.svg").read_text() == out.read_text()
    assert "![" in (ROOT / "README.md").read_text() and "docs/federation.svg" in (ROOT / "README.md").read_text()
