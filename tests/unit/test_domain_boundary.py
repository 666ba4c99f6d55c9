"""The domain core (dsxbus/) knows nothing of Pulumi: the CLI, the policy pack and tests use it without an engine."""

from __future__ import annotations

import ast
from pathlib import Path

DSXBUS = Path(__file__).resolve().parents[2] / "dsxbus"


def pulumi_imports(source: str, filename: str = "<source>") -> list[str]:
    """Every `import pulumi*` / `from pulumi* import ...` in a module, as `file:line module`."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
        else:
            continue
        found += [f"{filename}:{node.lineno} {m}" for m in modules if m.split(".")[0].startswith("pulumi")]
    return found


def test_the_domain_core_imports_no_pulumi() -> None:
    modules = sorted(DSXBUS.rglob("*.py"))
    assert len(modules) > 10  # the walk found the package
    found = [hit for path in modules for hit in pulumi_imports(path.read_text(), str(path))]
    assert found == []


def test_the_boundary_check_finds_every_form_of_pulumi_import() -> None:
    source = (
        "import os\n"
        "import pulumi\n"
        "import pulumi_kubernetes.core as core\n"
        "from pulumi_random import RandomBytes\n"
        "def f():\n"
        "    from pulumi.runtime import test\n"
        "from . import pulumish\n"
    )
    assert [hit.split(" ")[1] for hit in pulumi_imports(source)] == [
        "pulumi",
        "pulumi_kubernetes.core",
        "pulumi_random",
        "pulumi.runtime",
    ]
