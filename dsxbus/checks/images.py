"""The nats-server image (`images.nats`): a version dsx-bus was measured on, or an explicit opt-in."""

from __future__ import annotations

from dsxbus import versions
from dsxbus.config import EventBus
from dsxbus.errors import Problem, key_path


def problems(bus: EventBus) -> list[Problem]:
    if bus.images.accept_untested_nats_version:
        return []
    reference = bus.images.nats
    version = bus.nats_server_version
    supported = ", ".join(versions.SUPPORTED)
    opt_in = "or set images.acceptUntestedNatsVersion: true to run it untested"
    if version is None:
        return [
            Problem(
                key_path("images", "nats"),
                reference,
                f"names no nats-server version, so dsx-bus cannot tell whether it is one it is tested on "
                f"({supported}). Fix: tag it with the version, e.g. {versions.default_image()} (a digest may "
                f"follow: {versions.default_image()}@sha256:...), {opt_in}",
            )
        ]
    if not versions.is_supported(version):
        return [
            Problem(
                key_path("images", "nats"),
                reference,
                f"nats-server {version} is not a version dsx-bus is tested on ({supported}): its leaf "
                f"permissions and routing were never measured there. Fix: use {versions.default_image()} or "
                f"nats:{versions.NEWEST}-alpine, {opt_in}",
            )
        ]
    return []
