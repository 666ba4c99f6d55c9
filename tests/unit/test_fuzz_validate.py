"""Whatever a stack file holds, `dsx-bus validate` (and `render` of what validates) ends in exit 0 or 1 with only
`error:`/`warning:`/`note:` lines: never a traceback. The long run is scripts/fuzz_validate.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dsxbus import stackfile
from tests.unit import fuzzing

FILES = st.sampled_from(fuzzing.FILES)
VALUES = st.one_of(
    st.sampled_from(fuzzing.INTERESTING),
    st.text(max_size=12),
    st.integers(),
    st.floats(),
    st.lists(st.text(max_size=4), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)
FEW = settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def _behaves(project: Path, files: dict[str, bytes]) -> None:
    failures = [f"{o.command}: {o.failure}" for o in fuzzing.check(project, files) if o.failure]
    assert not failures


@given(st.binary(max_size=4096))
@settings(max_examples=150, deadline=None)
def test_the_reader_refuses_any_bytes_with_a_value_error_or_reads_them(data: bytes) -> None:
    try:
        stackfile.read_yaml(stackfile.decode(data))
    except ValueError as exc:
        assert "\n" not in str(exc)


@given(st.text(alphabet=st.sampled_from(list("ab:-[]{}&*!? \n\t#'\"|>%@`,\ufeff\x00")), max_size=200))
@settings(max_examples=150, deadline=None)
def test_the_reader_refuses_any_yaml_like_text_with_a_value_error_or_reads_it(text: str) -> None:
    try:
        stackfile.read_yaml(text)
    except ValueError as exc:
        assert "\n" not in str(exc)


@given(FILES, st.data())
@FEW
def test_a_truncated_example_stack_fails_cleanly(project: Path, name: str, data: st.DataObject) -> None:
    original = fuzzing.EXAMPLES[name]
    cut = data.draw(st.integers(0, len(original)))
    _behaves(project, {**fuzzing.EXAMPLES, name: original[:cut]})


@given(FILES, FILES, st.data())
@FEW
def test_two_example_stacks_spliced_fail_cleanly(project: Path, name: str, other: str, data: st.DataObject) -> None:
    head, tail = fuzzing.EXAMPLES[name], fuzzing.EXAMPLES[other]
    spliced = head[: data.draw(st.integers(0, len(head)))] + tail[data.draw(st.integers(0, len(tail))) :]
    _behaves(project, {**fuzzing.EXAMPLES, name: spliced})


@given(FILES, st.binary(min_size=1, max_size=16), st.data())
@FEW
def test_random_bytes_inside_an_example_stack_fail_cleanly(
    project: Path, name: str, noise: bytes, data: st.DataObject
) -> None:
    original = fuzzing.EXAMPLES[name]
    at = data.draw(st.integers(0, len(original)))
    _behaves(project, {**fuzzing.EXAMPLES, name: original[:at] + noise + original[at:]})


@given(FILES, st.binary(max_size=2048))
@settings(max_examples=10, deadline=None)
def test_a_stack_file_of_random_bytes_fails_cleanly(project: Path, name: str, data: bytes) -> None:
    _behaves(project, {**fuzzing.EXAMPLES, name: data})


@pytest.mark.parametrize("snippet", fuzzing.SNIPPETS, ids=range(len(fuzzing.SNIPPETS)))
def test_hostile_yaml_in_the_event_bus_fails_cleanly(project: Path, snippet: bytes) -> None:
    text = fuzzing.EXAMPLES["Pulumi.cpc-a.yaml"]
    marker = b"    clusterType: cpc\n"
    indented = b"".join(b"    " + line + b"\n" for line in snippet.splitlines())
    _behaves(project, {**fuzzing.EXAMPLES, "Pulumi.cpc-a.yaml": text.replace(marker, indented + marker)})


@given(FILES, st.data(), st.sampled_from(("set", "set", "delete", "rename", "wrap", "append")), VALUES)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_an_example_stack_with_a_value_key_or_type_changed_fails_cleanly_or_renders(
    project: Path, name: str, data: st.DataObject, how: str, value: Any
) -> None:
    document = fuzzing.documents()[name]
    path = data.draw(st.sampled_from(list(fuzzing.paths(document))))
    mutated = fuzzing.mutate(document, path, how, value)
    try:
        text = fuzzing.dump(mutated)
    except yaml.YAMLError:  # a value YAML cannot write (not a stack file anyone could have)
        return
    _behaves(project, {**fuzzing.EXAMPLES, name: text})
