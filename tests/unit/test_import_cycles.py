"""No dsxbus module imports itself back through other modules: each concept builds on others, never in a circle."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(modules: Mapping[str, str]) -> dict[str, set[str]]:
    """Which of `modules` (name -> source) each one imports anywhere in its code; `from p import m` imports p.m.

    Relative imports are not read: dsxbus has none.
    """
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, source in modules.items():
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [f"{node.module}.{alias.name}" for alias in node.names]
            else:
                continue
            for target in targets:
                while target and target not in modules:  # a name imported from a module: that module
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def cycles(graph: Mapping[str, set[str]]) -> list[set[str]]:
    """The modules that reach each other, one set per cycle (Tarjan's strongly connected components)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[set[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in sorted(graph[module]):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = {stack.pop()}
            while module not in component:
                component.add(stack.pop())
            if len(component) > 1:
                found.append(component)

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


def test_no_dsxbus_module_imports_itself_back() -> None:
    modules = {module_name(path): path.read_text() for path in sorted((ROOT / "dsxbus").rglob("*.py"))}
    assert len(modules) > 40  # the walk found the package
    assert cycles(imports(modules)) == []


def test_the_cycle_check_follows_packages_and_imports_inside_functions() -> None:
    modules = {
        "p": "",
        "p.a": "from p import b\n",
        "p.b": "import p.c\n",
        "p.c": "def f():\n    from p.a import x\n",
        "p.d": "from p.a import y\nimport os\n",
    }
    assert imports(modules)["p.d"] == {"p.a"}
    assert cycles(imports(modules)) == [{"p.a", "p.b", "p.c"}]
