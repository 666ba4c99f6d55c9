"""Each example stack run once per session, in bootstrap order: csc, cpc-a, cpc-b, csc again."""

from __future__ import annotations

import contextlib

import pytest

# CPython 3.11.7 can fail `ast.parse` with "AST constructor recursion depth mismatch" once the Pulumi
# runtime has run (seen when pytest lazily imports and rewrites the hypothesis plugin at session end):
# import it before any program run. Fixed upstream in 3.11.8 (gh-106905).
with contextlib.suppress(ImportError):
    import hypothesis  # noqa: F401

from tests.program import harness

CSC_REF = "organization/dsx-bus/csc"


@pytest.fixture(scope="session")
def csc_first() -> harness.Run:
    """`pulumi up` on the CSC before any CPC has deployed."""
    return harness.run("csc")


@pytest.fixture(scope="session")
def cpc_a(csc_first: harness.Run) -> harness.Run:
    return harness.run("cpc-a", stack_outputs={CSC_REF: csc_first.outputs})


@pytest.fixture(scope="session")
def cpc_b(csc_first: harness.Run) -> harness.Run:
    return harness.run("cpc-b", stack_outputs={CSC_REF: csc_first.outputs})


@pytest.fixture(scope="session")
def csc(cpc_a: harness.Run, cpc_b: harness.Run) -> harness.Run:
    """The second CSC `up`, with both CPC stacks deployed."""
    return harness.run(
        "csc",
        stack_outputs={"organization/dsx-bus/cpc-a": cpc_a.outputs, "organization/dsx-bus/cpc-b": cpc_b.outputs},
    )
