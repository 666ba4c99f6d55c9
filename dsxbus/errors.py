"""User-facing errors: every problem names the config key, the value and the fix."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

CONFIG_KEY = "dsx-bus:eventBus"


@dataclass(frozen=True)
class Problem:
    """One mistake in a stack config, said the way an operator can act on it."""

    key: str
    """Where it is, as written in the stack file: `dsx-bus:eventBus.crossLayer.cscExports[1]`."""
    value: object
    fix: str
    warning: bool = False
    """Warnings are reported but never stop a deployment."""
    note: bool = False
    """What was not checked, and why (`dsx-bus validate` on some of the stacks); a note is also a warning, so every
    filter that keeps errors drops it, but it is shown as `note:` and never counted as a warning."""

    @property
    def level(self) -> str:
        """How the CLI prefixes it: `error`, `warning` or `note`."""
        return "note" if self.note else "warning" if self.warning else "error"

    def __str__(self) -> str:
        return f"{self.key} = {_show(self.value)}: {self.fix}"


def _show(value: object) -> str:
    if isinstance(value, tuple):
        value = list(value)
    return repr(value)


def key_path(*parts: str | int, root: str = CONFIG_KEY) -> str:
    """Join config path parts the way a stack file reads: `root.a.b[0].c`."""
    text = root
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if _plain_key(part) else f"[{part!r}]"
    return text


def _plain_key(part: str) -> bool:
    # A key with white space, control characters or nothing at all is shown quoted, so that `a\n` can be told
    # from `a` and no stack file can put a line break (or a terminal escape) into an error line.
    return part != "" and part.isprintable() and not any(char.isspace() for char in part)


def nothing_changed(problems: int | str, where: str = "") -> str:
    """The last line of every refused run, from the CLI, the Pulumi program or a `ConfigError`:
    `2 problem(s) in Pulumi.cpc-a.yaml; nothing was changed`. `problems` is a count, or what went wrong when that is
    not a list of problems."""
    head = f"{problems} problem(s)" if isinstance(problems, int) else problems
    return f"{head}{f' {where}' if where else ''}; nothing was changed"


class DsxBusError(Exception):
    """Base of every error dsx-bus reports to a user without a traceback."""

    def lines(self) -> list[str]:
        return [str(self)]


class ConfigError(DsxBusError):
    """A stack config has one or more problems; all of them are listed at once."""

    def __init__(self, problems: Iterable[Problem], source: str = "") -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        self.source = source
        super().__init__("\n".join(self.lines()))

    def lines(self) -> list[str]:
        where = f"{self.source}: " if self.source else ""
        errors = [p for p in self.problems if not p.warning]
        lines = [f"{where}{p}" for p in errors]
        lines.append(nothing_changed(len(errors), f"in {self.source}" if self.source else ""))
        return lines
