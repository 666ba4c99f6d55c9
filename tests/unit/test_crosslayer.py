"""Cross-layer list rules: each rule on a representative bad input, and never laxer than the measured predictor."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from dsxbus.crosslayer import CrossLayer, Finding, LoadFailure, check, load_failure

BASE_CSC = ("broadcast.>",)
BASE_PREFIXED = ("command.>",)
BASE_CPC = ("sensor.>",)


def lists(csc: tuple[str, ...] = (), pref: tuple[str, ...] = (), cpc: tuple[str, ...] = ()) -> CrossLayer:
    """The base example lists plus the entries a case adds, as in docs/measured-facts.md §2."""
    return CrossLayer(csc_exports=BASE_CSC + csc, csc_prefixed_exports=BASE_PREFIXED + pref, cpc_exports=BASE_CPC + cpc)


def only(findings: list[Finding], rule: str) -> Finding:
    matching = [f for f in findings if f.rule == rule]
    assert len(matching) == 1, findings
    return matching[0]


def test_the_base_example_lists_have_no_findings() -> None:
    assert check(lists()) == []


def test_a_prefixed_export_overlapping_a_cpc_export_never_loads() -> None:
    finding = only(check(lists(pref=("x.>",), cpc=("x.>",))), "prefixed-overlaps-cpc")
    assert finding.fatal
    assert finding.witness == "x.x"
    assert str(finding.entry) == "cscPrefixedExports[1] 'x.>'"
    text = finding.describe()
    assert "cpcExports[1] 'x.>'" in text
    assert "'x.x'" in text
    assert "import forms a cycle" in text and "every config load" in text


def test_a_csc_export_overlapping_a_cpc_export_fails_some_loads() -> None:
    finding = only(check(lists(csc=("a.*.c",), cpc=("a.b.*",))), "csc-overlaps-cpc")
    assert finding.fatal
    assert finding.witness == "a.b.c"
    assert str(finding.entry) == "cscExports[1] 'a.*.c'"
    text = finding.describe()
    assert "cpcExports[1] 'a.b.*'" in text
    assert "'a.b.c'" in text
    assert "1 config load in 8" in text and "import forms a cycle" in text


def test_a_csc_export_overlapping_a_prefixed_export_is_only_a_warning() -> None:
    findings = check(lists(csc=("x.>",), pref=("x.>",)))
    finding = only(findings, "csc-overlaps-prefixed")
    assert not finding.fatal
    assert not any(f.fatal for f in findings)
    assert finding.witness == "x.x"
    assert str(finding.entry) == "cscExports[1] 'x.>'"
    text = finding.describe()
    assert "cscPrefixedExports[1] 'x.>'" in text
    assert "harmless" in text


def test_the_same_entry_twice_in_one_list_never_loads() -> None:
    finding = only(check(lists(cpc=("x.>", "x.>"))), "repeated-entry")
    assert finding.fatal
    assert finding.witness == "x.x"
    assert str(finding.entry) == "cpcExports[2] 'x.>'"
    text = finding.describe()
    assert "cpcExports[1] 'x.>'" in text
    assert "stream import already exists" in text


def test_two_overlapping_csc_exports_deliver_twice_and_break_the_mqtt_streams() -> None:
    finding = only(check(lists(csc=("a.>", "a.b"))), "overlap-in-one-list")
    assert finding.fatal
    assert finding.witness == "a.b"
    assert str(finding.entry) == "cscExports[2] 'a.b'"
    text = finding.describe()
    assert "cscExports[1] 'a.>'" in text
    assert "twice" in text and "source filters can not overlap" in text


def test_two_overlapping_cpc_exports_deliver_twice() -> None:
    finding = only(check(lists(cpc=("a.>", "a.b"))), "overlap-in-one-list")
    assert finding.fatal
    assert finding.witness == "a.b"
    assert "cpcExports[1] 'a.>'" in finding.describe() and "twice" in finding.describe()


def test_a_star_in_a_prefixed_export_breaks_the_mqtt_stream_sources() -> None:
    finding = only(check(lists(pref=("a.*.c",))), "wildcard-in-prefixed-export")
    assert finding.fatal
    assert finding.witness is None
    assert str(finding.entry) == "cscPrefixedExports[1] 'a.*.c'"
    assert "source transform: invalid subject" in finding.describe()


@pytest.mark.parametrize(
    ("added", "name"),
    [
        (lists(csc=("cpc.>",)), "cscExports[1] 'cpc.>'"),
        (lists(cpc=("csc2cpc.>",)), "cpcExports[1] 'csc2cpc.>'"),
        (lists(pref=("cpc.1.x",)), "cscPrefixedExports[1] 'cpc.1.x'"),
        (lists(csc=("cpc2csc.*.>",)), "cscExports[1] 'cpc2csc.*.>'"),  # every CPC's uplink deliveries to every CPC
    ],
)
def test_a_subject_under_the_generated_prefixes_is_reserved(added: CrossLayer, name: str) -> None:
    finding = only(check(added), "reserved-subject")
    assert finding.fatal
    assert str(finding.entry) == name
    assert finding.witness is not None and finding.witness.split(".")[0] in ("cpc", "csc2cpc", "cpc2csc")
    assert f"both match {finding.witness!r}" in finding.describe()


def test_a_catch_all_export_collides_with_the_reserved_subjects() -> None:
    finding = only(check(lists(csc=(">",))), "reserved-subject")
    assert finding.fatal
    assert "fails every load" in finding.describe()


def test_a_system_subject_is_reserved() -> None:
    finding = only(check(lists(cpc=("$JS.API.>",))), "reserved-system-subject")
    assert finding.fatal
    assert str(finding.entry) == "cpcExports[1] '$JS.API.>'"
    assert "system subject" in finding.describe()


def test_an_invalid_subject_names_its_reason() -> None:
    finding = only(check(lists(csc=("a..b",))), "invalid-subject")
    assert finding.fatal
    assert str(finding.entry) == "cscExports[1] 'a..b'"
    assert "empty token" in finding.describe()


def test_errors_come_before_warnings() -> None:
    findings = check(lists(csc=("x.>",), pref=("x.>",), cpc=("y.>", "y.>")))
    assert [f.fatal for f in findings] == [True, False]


# docs/measured-facts.md §2, `-t rejected` with the chart's account order: 1000/1000 = EVERY_LOAD,
# ~870/1000 = MOST_LOADS, ~130/1000 = SOME_LOADS, 0 = None.
@pytest.mark.parametrize(
    ("case", "added", "measured"),
    [
        ("a", lists(csc=("x.>",), cpc=("x.>",)), LoadFailure.SOME_LOADS),
        ("b", lists(csc=("x.>",), pref=("x.>",)), None),
        ("c", lists(pref=("x.>",), cpc=("x.>",)), LoadFailure.EVERY_LOAD),
        ("d1", lists(csc=("a.>",), cpc=("a.b",)), LoadFailure.SOME_LOADS),
        ("d2", lists(csc=("a.b",), cpc=("a.>",)), LoadFailure.SOME_LOADS),
        ("d3", lists(pref=("a.>",), cpc=("a.b",)), LoadFailure.EVERY_LOAD),
        ("d4", lists(csc=("a.>",), pref=("a.b",)), None),
        ("e1", lists(csc=("a.*.c",), cpc=("a.b.*",)), LoadFailure.SOME_LOADS),
        ("e2", lists(pref=("a.*.c",), cpc=("a.b.*",)), LoadFailure.EVERY_LOAD),
        ("e3", lists(csc=("a.*.c",), pref=("a.b.*",)), None),
        ("f1", lists(csc=("a.b",), cpc=("a.c",)), None),
        ("f2", lists(pref=("a.b",), cpc=("a.c",)), None),
        ("f3", lists(csc=("a.b",), pref=("a.c",)), None),
        ("f4", lists(csc=("a.*.c",), cpc=("a.*.d",)), None),
        ("g1", lists(csc=(">",)), LoadFailure.EVERY_LOAD),
        ("g2", lists(csc=("cpc.>",)), LoadFailure.MOST_LOADS),
        ("g3", lists(cpc=(">",)), LoadFailure.EVERY_LOAD),
        ("g4", lists(cpc=("csc2cpc.>",)), LoadFailure.SOME_LOADS),
        ("h1", lists(csc=("x.>", "x.>")), LoadFailure.EVERY_LOAD),
        ("h2", lists(cpc=("x.>", "x.>")), LoadFailure.EVERY_LOAD),
        ("i1", lists(pref=("a.*.c",)), None),
        ("j1", lists(csc=("a.>", "a.b")), None),
        ("j2", lists(cpc=("a.>", "a.b")), None),
        ("j3", lists(pref=("a.>", "a.b")), None),
        ("z", lists(), None),
    ],
)
def test_load_failure_reproduces_the_measured_table(case: str, added: CrossLayer, measured: LoadFailure | None) -> None:
    assert load_failure(added, "1") == measured, case


# Tokens from a tiny alphabet, now and then under the subjects dsx-bus generates (cpc.<id>., csc2cpc.<id>.).
_prefixes = st.sampled_from(
    [(), (), (), (), (), ("cpc",), ("cpc", "1"), ("cpc", "*"), ("cpc", "2"), ("csc2cpc",), ("csc2cpc", "1")]
)
_patterns = st.builds(
    lambda prefix, tokens, tail: ".".join([*prefix, *tokens] + [">"] * tail) or ">",
    _prefixes,
    st.lists(st.sampled_from(["a", "b", "*"]), max_size=3),
    st.booleans(),
)
_lists = st.builds(
    lambda x, z, y: CrossLayer(csc_exports=tuple(x), csc_prefixed_exports=tuple(z), cpc_exports=tuple(y)),
    *(st.lists(_patterns, max_size=3) for _ in range(3)),
)


@settings(max_examples=600)
@given(_lists, st.sampled_from(["1", "2", "a", "10"]))
@example(CrossLayer(csc_exports=("x.>",), cpc_exports=("x.>",)), "1")
@example(CrossLayer(csc_exports=("cpc.>",), cpc_exports=("a",)), "1")
@example(CrossLayer(cpc_exports=("csc2cpc.>",)), "2")
@example(CrossLayer(csc_exports=("cpc.1.a",), csc_prefixed_exports=("a",)), "1")
@example(CrossLayer(csc_exports=("csc2cpc.1.>",)), "1")
@example(CrossLayer(cpc_exports=("*.1.>",)), "1")
def test_check_is_at_least_as_strict_as_the_measured_predictor(lists: CrossLayer, cluster_id: str) -> None:
    predicted = load_failure(lists, cluster_id)
    assert predicted is None or any(f.fatal for f in check(lists)), predicted
