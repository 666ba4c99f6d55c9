"""Seeds are Pulumi secrets wherever they travel, never leave a stack, and pair with the public keys."""

from __future__ import annotations

from typing import Any

from dsxbus import naming, nkeys, stackfile
from tests.program.harness import Run, entropy_for, strings, unwrap

SEED_PREFIXES = ("SU", "SA", "SX")


def _is_seed(text: str) -> bool:
    if not text.startswith(SEED_PREFIXES):
        return False
    try:
        nkeys.public_key_from_seed(text)
    except ValueError:
        return False
    return True


def _all_strings(value: Any) -> list[str]:
    return [s for s, _ in strings(value)]


def test_every_seed_in_every_resource_input_is_marked_secret(csc: Run, cpc_a: Run, cpc_b: Run) -> None:
    for run in (csc, cpc_a, cpc_b):
        seeds = [(c.name, secret) for c in run.registered() for text, secret in strings(c.inputs) if _is_seed(text)]
        assert seeds, "the program should carry seeds (in Secrets)"
        assert all(secret for _, secret in seeds), [name for name, secret in seeds if not secret]


def test_no_stack_output_contains_a_seed(csc_first: Run, csc: Run, cpc_a: Run, cpc_b: Run) -> None:
    for run in (csc_first, csc, cpc_a, cpc_b):
        assert run.outputs
        assert not [s for s in _all_strings(run.outputs) if _is_seed(s) or s.startswith(SEED_PREFIXES)]


def test_seeds_only_appear_in_secrets(cpc_a: Run) -> None:
    for captured in cpc_a.registered():
        if any(_is_seed(s) for s in _all_strings(captured.inputs)):
            assert captured.type == "kubernetes:core/v1:Secret", captured.type


def test_the_auth_callout_seeds_pair_with_the_public_keys_nats_trusts(csc: Run) -> None:
    objects = csc.k8s_objects()

    def data(name: str) -> Any:
        return unwrap(objects[("Secret", name)].inputs)["stringData"]

    keys = data("auth-callout-keys")
    assert nkeys.public_key_from_seed(keys["issuer-seed"]) == data("nats-auth-signing")["pubkey"]
    assert nkeys.public_key_from_seed(keys["nkey-seed"]) == data("nats-authx-user")["pubkey"]
    assert nkeys.public_key_from_seed(keys["xkey-seed"]) == data("nats-xkey")["pubkey"]
    assert nkeys.is_public_key(data("nats-auth-signing")["pubkey"], nkeys.KeyKind.ACCOUNT)
    assert nkeys.is_public_key(data("nats-xkey")["pubkey"], nkeys.KeyKind.CURVE)
    nack = data("nats-nack-user")
    assert nkeys.public_key_from_seed(nack["nack-user.nk"]) == nack["pubkey"]


def test_keys_come_from_the_random_bytes_kept_in_state(cpc_a: Run) -> None:
    seed = unwrap(cpc_a.k8s_objects()[("Secret", "nats-leaf-csc")].inputs)["stringData"]["seed"]
    assert seed == nkeys.seed_from_entropy(nkeys.KeyKind.USER, entropy_for("cpc-a-secrets-nats-leaf-csc-entropy"))
    randoms = cpc_a.registered("randomBytes:RandomBytes")
    assert randoms and all(r.inputs["length"] == 32 for r in randoms)


def test_the_cpc_exports_its_leaf_public_keys_by_account(cpc_a: Run) -> None:
    keys = cpc_a.outputs["leafPublicKeys"]
    assert set(keys) == {"CSC", "LaunchLayer"}
    seed = unwrap(cpc_a.k8s_objects()[("Secret", "nats-leaf-csc")].inputs)["stringData"]["seed"]
    assert keys["CSC"] == nkeys.public_key_from_seed(seed)
    assert all(nkeys.is_public_key(k, nkeys.KeyKind.USER) for k in keys.values())


def test_the_csc_nack_secret_holds_the_sources_seed_that_pairs_with_its_public_key(csc: Run) -> None:
    nack = unwrap(csc.k8s_objects()[("Secret", "nats-nack-user")].inputs)["stringData"]
    assert nkeys.public_key_from_seed(nack["nack-sources.nk"]) == nack["sources-pubkey"]
    assert nack["nack-sources.nk"] != nack["nack-user.nk"]


def test_a_cpc_has_no_sources_identity(cpc_a: Run) -> None:
    nack = unwrap(cpc_a.k8s_objects()[("Secret", "nats-nack-user")].inputs)["stringData"]
    assert set(nack) == {"nack-user.nk", "pubkey"}


def test_the_program_writes_exactly_the_secrets_and_keys_of_the_naming_table(csc: Run, cpc_a: Run, cpc_b: Run) -> None:
    for run in (csc, cpc_a, cpc_b):
        bus = stackfile.parse(run.config["dsx-bus:eventBus"])[0]
        table = naming.key_secrets(bus.cluster_type, bus.mtls.enabled, bus.cpc_ids, bus.enabled_extra_accounts)
        written = {
            name: set(unwrap(obj.inputs)["stringData"])
            for (kind, name), obj in run.k8s_objects().items()
            if kind == "Secret" and name in {secret.name for secret in table}
        }
        assert written == {secret.name: {key.key for key in secret.keys} for secret in table}, run.stack
