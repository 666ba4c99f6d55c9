"""Image references: a tag or a digest pins one build; no tag or a floating tag does not."""

from __future__ import annotations

import pytest

from dsxbus import images


@pytest.mark.parametrize(
    ("reference", "tag"),
    [
        ("nats:2.12.6-alpine", "2.12.6-alpine"),
        ("registry:5000/nats", None),
        ("registry:5000/nats:1.0", "1.0"),
        ("nats", None),
        ("nats@sha256:abc", None),
        ("ghcr.io/a/b:v1@sha256:abc", "v1"),
    ],
)
def test_the_tag_is_what_follows_the_last_colon_of_the_name(reference: str, tag: str | None) -> None:
    assert images.tag_of(reference) == tag


@pytest.mark.parametrize("reference", ["nats:2.12.6-alpine", "registry:5000/nats@sha256:" + "0" * 64])
def test_a_version_tag_or_a_digest_pins_the_image(reference: str) -> None:
    assert images.pin_problem(reference) is None


def test_no_tag_means_whatever_latest_is_at_pull_time() -> None:
    assert images.pin_problem("registry:5000/nats") == "has no tag, so every pull takes whatever ':latest' is then"


def test_floating_tags_are_configurable() -> None:
    assert images.pin_problem("nats:latest") == "uses the floating tag 'latest', which moves with every release"
    assert images.pin_problem("nats:stable") is None
    assert images.pin_problem("nats:stable", ["stable"]) is not None
