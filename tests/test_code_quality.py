"""The whole tree passes the linters CI would otherwise not run: ruff (lint, format) and mypy --strict."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOOLS = Path(sys.executable).parent


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(TOOLS / argv[0]), *argv[1:]], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_ruff_finds_no_lint_problem() -> None:
    result = _run("ruff", "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_finds_every_file_formatted() -> None:
    result = _run("ruff", "format", "--check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_finds_no_type_error() -> None:
    result = _run("mypy", ".")
    assert result.returncode == 0, result.stdout + result.stderr
