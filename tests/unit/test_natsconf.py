"""Reading a NATS config tree: which certificate files it names."""

from __future__ import annotations

from dsxbus import natsconf


def test_certificate_files_are_found_anywhere_or_only_inside_lists() -> None:
    tree: natsconf.Tree = {
        "tls": {"cert_file": "/etc/a.crt", "key_file": "/etc/a.key"},
        "leafnodes": {"remotes": [{"url": "nats://x", "tls": {"ca_file": "/etc/leaf/ca.crt"}}]},
    }
    assert natsconf.certificate_files(tree) == ["/etc/a.crt", "/etc/a.key", "/etc/leaf/ca.crt"]
    assert natsconf.certificate_files(tree, in_lists_only=True) == ["/etc/leaf/ca.crt"]
