"""Fixtures for the local federation tests: the example stacks, federated on real nats-server processes."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from dsxbus import nkeys
from dsxbus.local import runner
from dsxbus.local.state import Federation
from dsxbus.nkeys import KeyPair

PROJECT = Path(__file__).resolve().parents[3]
TESTER = "tester"
"""An operator `auth.permissions.nkey` entry added to the CSC stack, limited to `test.>`."""


def _quiet(_: str) -> None:
    return None


def example_project(directory: Path, tester: KeyPair) -> Path:
    """The example stacks, plus one operator nkey entry on the CSC (the examples have none)."""
    directory.mkdir(parents=True, exist_ok=True)
    for path in PROJECT.glob("Pulumi*.yaml"):
        shutil.copy(path, directory / path.name)
    csc = directory / "Pulumi.csc.yaml"
    document = yaml.safe_load(csc.read_text())
    limited = {"pub": {"allow": ["test.>"]}, "sub": {"allow": ["test.>"]}}
    document["config"]["dsx-bus:eventBus"]["auth"]["permissions"]["nkey"] = {
        TESTER: {"public_key": tester.public_key, "account": "CSC", "permissions": limited}
    }
    csc.write_text(yaml.safe_dump(document, sort_keys=False))
    return directory


@pytest.fixture(scope="session")
def make_project() -> Callable[[Path], Path]:
    """A copy of the example stacks in a directory of the test's own (with a fresh tester key)."""
    return lambda directory: example_project(directory, nkeys.generate(nkeys.KeyKind.USER))


@pytest.fixture(scope="session")
def tester_key() -> KeyPair:
    return nkeys.generate(nkeys.KeyKind.USER)


@pytest.fixture(scope="session")
def federation(
    tmp_path_factory: pytest.TempPathFactory, tester_key: KeyPair, nats_version: str
) -> Iterator[Federation]:
    """One federation of the example stacks (csc, cpc-a, cpc-b, each with nats-mtls) per nats-server version."""
    root = tmp_path_factory.mktemp("federation")
    project = example_project(root / "project", tester_key)
    with runner.running_federation(project, root / "run", say=_quiet) as running:
        yield running
