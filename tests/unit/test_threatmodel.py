"""The identity tables of docs/threat-model.md come from the code that renders permissions.json."""

from __future__ import annotations

from pathlib import Path

import pytest

from dsxbus import fleet, threatmodel

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = ROOT / "docs" / "threat-model.md"


def test_the_threat_model_tables_are_those_the_example_stacks_render() -> None:
    text = DOCUMENT.read_text()
    assert threatmodel.with_tables(text, threatmodel.identity_tables(fleet.load(ROOT))) == text, (
        "docs/threat-model.md is stale: run `dsx-bus threat-model --write docs/threat-model.md`"
    )


def test_every_example_stack_and_every_cpc_leaf_has_a_row() -> None:
    tables = threatmodel.identity_tables(fleet.load(ROOT))
    for stack in ("csc", "cpc-a", "cpc-b"):
        assert f"#### {stack} (" in tables
    assert "| NKey | leaf-cpc-a | CPC-a |" in tables and "| NKey | leaf-cpc-b | CPC-b |" in tables


def test_an_entry_without_an_allow_list_reads_as_everything_in_its_account() -> None:
    assert threatmodel._subjects(None) == threatmodel.EVERYTHING
    assert threatmodel._subjects({"allow": ["a.>"], "deny": ["a.b"]}) == "`a.>`; deny `a.b`"
    assert threatmodel._subjects({"deny": [">"]}) == "nothing"


def test_a_document_without_the_generated_section_is_refused() -> None:
    with pytest.raises(ValueError, match="no"):
        threatmodel.with_tables("# nothing here\n", "| table |\n")
