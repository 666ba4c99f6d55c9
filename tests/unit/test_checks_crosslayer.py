"""Cross-layer lists that overlap (dsxbus.checks.crosslayer): both entries named, with a subject both match."""

from __future__ import annotations

from dsxbus import stackfile
from tests.unit.stackconfigs import KEY, cpc, csc, only_error


def test_overlapping_cross_layer_lists_name_both_entries_and_a_subject_both_match() -> None:
    raw = cpc(crossLayer={"cscPrefixedExports": ["command.>"], "cpcExports": ["sensor.>", "command.reboot"]})
    problem = only_error(raw)
    assert problem.key == f"{KEY}.crossLayer.cscPrefixedExports[0]"
    assert problem.value == "command.>"
    assert "overlaps cpcExports[1] 'command.reboot' (both match 'command.reboot')" in problem.fix
    assert "never starts" in problem.fix
    assert "Fix: remove one of the two, or narrow them" in problem.fix


def test_overlapping_fleet_cross_layer_lists_are_refused_on_the_csc() -> None:
    raw = csc(crossLayer={"cscExports": ["broadcast.>", "cpc.a.x"]})
    problem = only_error(raw)
    assert problem.key == f"{KEY}.crossLayer.cscExports[1]"
    assert problem.value == "cpc.a.x"
    assert "dsx-bus adds the cpc.<id>. prefix itself" in problem.fix


def test_a_broadcast_also_sent_as_a_command_is_only_a_warning() -> None:
    raw = cpc(crossLayer={"cscExports": ["ops.>"], "cscPrefixedExports": ["ops.restart"]})
    bus, warnings = stackfile.parse(raw)
    assert bus.effective_cross_layer.csc_exports == ("ops.>",)
    (warning,) = warnings
    assert warning.warning
    assert warning.key == f"{KEY}.crossLayer.cscExports[0]"
    assert "overlaps cscPrefixedExports[0] 'ops.restart' (both match 'ops.restart')" in warning.fix
