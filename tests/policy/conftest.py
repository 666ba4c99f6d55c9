"""The example stacks, captured once per session in bootstrap order (csc, cpc-a, cpc-b, csc again)."""

from __future__ import annotations

import contextlib

import pytest

# CPython 3.11.7 can fail `ast.parse` once the Pulumi runtime has run (gh-106905): import hypothesis first, as
# tests/program/conftest.py does.
with contextlib.suppress(ImportError):
    import hypothesis  # noqa: F401

from tests.policy import analyzer
from tests.policy.analyzer import Capture

CSC_REF = "organization/dsx-bus/csc"


@pytest.fixture(scope="session")
def csc_first() -> Capture:
    """`pulumi up` on the CSC before any CPC has deployed."""
    return analyzer.capture_stack("csc")


@pytest.fixture(scope="session")
def cpc_a(csc_first: Capture) -> Capture:
    return analyzer.capture_stack("cpc-a", stack_outputs={CSC_REF: csc_first.exports})


@pytest.fixture(scope="session")
def cpc_b(csc_first: Capture) -> Capture:
    return analyzer.capture_stack("cpc-b", stack_outputs={CSC_REF: csc_first.exports})


@pytest.fixture(scope="session")
def cpc_outputs(cpc_a: Capture, cpc_b: Capture) -> dict[str, dict[str, object]]:
    return {"organization/dsx-bus/cpc-a": cpc_a.exports, "organization/dsx-bus/cpc-b": cpc_b.exports}


@pytest.fixture(scope="session")
def csc(cpc_outputs: dict[str, dict[str, object]]) -> Capture:
    """The second CSC `up`, with both CPC stacks deployed."""
    return analyzer.capture_stack("csc", stack_outputs=cpc_outputs)
