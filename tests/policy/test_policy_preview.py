"""Preview: values unknown until `up` make a policy advisory ("cannot check yet"), never a crash or a pass."""

from __future__ import annotations

import pulumi_random as random

from tests.policy import analyzer, programs
from tests.policy.analyzer import Capture

CONFIG = analyzer.example_config()


def test_previews_of_the_example_stacks_with_unknown_keys_raise_what_their_updates_raise(
    csc_first: Capture, cpc_a: Capture
) -> None:
    for up in (csc_first, cpc_a):
        outputs = {"organization/dsx-bus/csc": csc_first.exports} if up is cpc_a else None
        preview = analyzer.capture_stack(up.stack, stack_outputs=outputs, preview=True)
        assert any(
            r.type == "random:index/randomBytes:RandomBytes" and "base64" not in r.state for r in preview.resources
        )
        assert analyzer.summary(analyzer.analyze(preview, CONFIG)) == analyzer.summary(analyzer.analyze(up, CONFIG))


def _unknown_hostname() -> random.RandomString:
    return random.RandomString("host", length=8, special=False, upper=False)


def test_a_resource_value_unknown_in_preview_is_an_advisory_cannot_check_yet() -> None:
    def program() -> None:
        programs.tls_route("mqtt-mtls", [_unknown_hostname().result])

    found = analyzer.analyze(analyzer.capture(program, preview=True), CONFIG)
    assert analyzer.summary(found) == [
        ("mtls-names-agree", "ADVISORY", ""),
        ("tlsroute-hostnames-are-dns-names", "ADVISORY", "mqtt-mtls"),
    ]
    route, stack = sorted((d.message for d in found), key=lambda m: "tlsroute" not in m)
    assert route == (
        "can't run policy 'tlsroute-hostnames-are-dns-names' from policy pack 'dsx-bus@v0.0.1' during preview: "
        "string value at .spec.hostnames.0 can't be known during preview"
    )
    assert stack == (
        "can't run policy 'mtls-names-agree' from policy pack 'dsx-bus@v0.0.1' during preview: cannot check yet, "
        "TLSRoute mqtt-mtls: string value at .spec.hostnames.0 can't be known during preview. It is checked when the "
        "values are known (pulumi up)."
    )


def test_known_violations_stay_mandatory_beside_values_unknown_in_preview() -> None:
    def program() -> None:
        programs.tls_route("unknown", [_unknown_hostname().result])
        programs.tls_route("known", ["mqtt.other.example.com"])
        programs.certificate(["mqtt.example.com"])

    found = analyzer.analyze(analyzer.capture(program, preview=True), CONFIG)
    assert analyzer.summary(found) == [
        ("mtls-names-agree", "ADVISORY", ""),
        ("mtls-names-agree", "MANDATORY", "known"),
        ("tlsroute-hostnames-are-dns-names", "ADVISORY", "unknown"),
    ]
