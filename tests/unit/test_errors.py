"""How dsx-bus says a run was refused: the same last line from the CLI, the Pulumi program and a ConfigError."""

from __future__ import annotations

from dsxbus.errors import ConfigError, Problem, nothing_changed


def test_a_refusal_counts_the_problems_and_says_where() -> None:
    assert nothing_changed(2) == "2 problem(s); nothing was changed"
    assert nothing_changed(1, "in the stack config") == "1 problem(s) in the stack config; nothing was changed"


def test_a_refusal_without_a_list_of_problems_says_what_went_wrong() -> None:
    assert nothing_changed("the file is unreadable") == "the file is unreadable; nothing was changed"


def test_a_config_error_ends_with_the_refusal_and_counts_only_errors() -> None:
    problems = [Problem("k.a", 1, "fix a"), Problem("k.b", 2, "fix b"), Problem("k.c", 3, "mind c", warning=True)]
    lines = ConfigError(problems, source="Pulumi.csc.yaml").lines()
    assert lines == [
        "Pulumi.csc.yaml: k.a = 1: fix a",
        "Pulumi.csc.yaml: k.b = 2: fix b",
        "2 problem(s) in Pulumi.csc.yaml; nothing was changed",
    ]
