"""Reading a stack file: whatever bytes it holds, the reader names the file and the fix, and never hangs or crashes."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from dsxbus import stackfile
from dsxbus.errors import ConfigError
from tests.unit.stackconfigs import ROOT


def _error_of(tmp_path: Path, content: bytes) -> str:
    (tmp_path / "Pulumi.csc.yaml").write_bytes(content)
    with pytest.raises(ConfigError) as caught:
        stackfile.load_stack(tmp_path, "csc")
    (problem,) = caught.value.problems
    assert problem.key.endswith("Pulumi.csc.yaml")
    return problem.fix


def test_non_utf8_bytes_name_the_offset_and_ask_for_utf8(tmp_path: Path) -> None:
    fix = _error_of(tmp_path, b'config:\n  x: "\xff"\n')
    assert fix == "not UTF-8: byte 0xff at offset 14 (line 2); save it as UTF-8"


def test_a_utf16_file_with_a_bom_is_named_utf16(tmp_path: Path) -> None:
    fix = _error_of(tmp_path, b"\xff\xfe" + "config: {}\n".encode("utf-16-le"))
    assert "it is UTF-16" in fix and "save it as UTF-8" in fix


def test_a_utf8_bom_is_accepted(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.csc.yaml").write_bytes(b"\xef\xbb\xbf" + (ROOT / "Pulumi.csc.yaml").read_bytes())
    assert stackfile.load_stack(tmp_path, "csc").bus.cluster_type == "csc"


def test_binary_garbage_is_a_clean_error(tmp_path: Path) -> None:
    assert _error_of(tmp_path, bytes(range(256)) * 4).startswith("not UTF-8")


def test_a_list_as_a_mapping_key_is_refused_with_its_line(tmp_path: Path) -> None:
    fix = _error_of(tmp_path, b"config:\n  ? [a, b]\n  : 1\n")
    assert fix == "not valid YAML: line 2, column 5: a key is a list or mapping; keys are names or ids"


def test_nesting_1000_levels_deep_is_refused_without_recursion_error(tmp_path: Path) -> None:
    fix = _error_of(tmp_path, b"config: " + b"[" * 1000 + b"]" * 1000)
    assert "nested deeper than 50 levels" in fix


def test_an_alias_bomb_is_refused_fast_before_it_is_built(tmp_path: Path) -> None:
    levels = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    levels += [f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]" for i in range(8)]
    bomb = "config:\n  dsx-bus:eventBus:\n" + "".join(f"    {line}\n" for line in levels)
    started = time.monotonic()
    fix = _error_of(tmp_path, bomb.encode())
    assert "aliases (*name) expand to more than 200,000 values" in fix
    assert time.monotonic() - started < 2  # 9^9 values once built: 60 s and 1.3 GB on main


def test_an_alias_inside_its_own_anchor_is_refused(tmp_path: Path) -> None:
    assert "refers to a node that contains it" in _error_of(tmp_path, b"config: &a [*a]\n")


def test_a_few_aliases_still_work(tmp_path: Path) -> None:
    grant = 'permissions: {pub: {allow: ["test.>"]}, sub: {allow: ["test.>"]}}'
    text = (ROOT / "Pulumi.csc.yaml").read_text().replace(grant, grant.replace(": {", ": &t {", 1), 1)
    text = text.replace(grant, "permissions: *t", 1)
    assert "*t" in text and "&t" in text
    (tmp_path / "Pulumi.csc.yaml").write_text(text)
    assert stackfile.load_stack(tmp_path, "csc").bus.cluster_type == "csc"


def test_a_file_over_1_mib_is_refused_unread(tmp_path: Path) -> None:
    assert _error_of(tmp_path, b"#" * (2 << 20)).startswith("larger than 1024 KiB")


def test_a_directory_named_like_a_stack_file_is_a_clean_error(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.csc.yaml").mkdir()
    with pytest.raises(ConfigError) as caught:
        stackfile.load_stack(tmp_path, "csc")
    assert "not a regular file" in str(caught.value)


def test_a_yaml_error_is_one_line(tmp_path: Path) -> None:
    fix = _error_of(tmp_path, b"config:\n  a: [\n  b: }\n")
    assert "\n" not in fix and fix.startswith("not valid YAML: line ")


def test_an_event_bus_given_as_text_goes_through_the_same_reader() -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(8)
    )
    with pytest.raises(ConfigError) as caught:
        stackfile.parse(bomb)
    assert "must be a mapping" in str(caught.value)  # text that is not YAML stays text
