"""NKey encoding agrees with the reference nkeys library and with PyNaCl."""

from __future__ import annotations

import base64

import nacl.public
import nacl.signing
import nkeys
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dsxbus.nkeys import (
    KeyKind,
    KeyPair,
    generate,
    is_public_key,
    keypair_from_entropy,
    kind_of_public_key,
    public_key_from_seed,
    seed_from_entropy,
)

ENTROPY = bytes(range(32))
SIGNING_KINDS = [
    pytest.param(KeyKind.USER, nkeys.PREFIX_BYTE_USER, id="user"),
    pytest.param(KeyKind.ACCOUNT, nkeys.PREFIX_BYTE_ACCOUNT, id="account"),
]
PREFIXES = [
    pytest.param(KeyKind.USER, "SU", "U", id="user"),
    pytest.param(KeyKind.ACCOUNT, "SA", "A", id="account"),
    pytest.param(KeyKind.CURVE, "SX", "X", id="curve"),
]


def _corrupt(encoded: str, position: int = 10) -> str:
    # One changed base32 character is a burst of at most 5 bits, which CRC-16 always detects.
    replacement = "B" if encoded[position] != "B" else "C"
    return encoded[:position] + replacement + encoded[position + 1 :]


def _raw_public(public_key: str) -> bytes:
    return base64.b32decode(public_key + "=" * (-len(public_key) % 8))[1:33]


@pytest.mark.parametrize(("kind", "library_prefix"), SIGNING_KINDS)
def test_a_seed_decodes_with_the_nkeys_library_to_the_same_entropy(kind: KeyKind, library_prefix: int) -> None:
    seed = seed_from_entropy(kind, ENTROPY)

    assert nkeys.decode_seed(seed.encode()) == (library_prefix, ENTROPY)


@pytest.mark.parametrize(("kind", "library_prefix"), SIGNING_KINDS)
def test_a_seed_matches_the_one_the_nkeys_library_encodes(kind: KeyKind, library_prefix: int) -> None:
    assert seed_from_entropy(kind, ENTROPY) == nkeys.encode_seed(ENTROPY, library_prefix).decode()


@pytest.mark.parametrize("kind", [KeyKind.USER, KeyKind.ACCOUNT])
def test_the_public_key_matches_the_one_the_nkeys_library_derives(kind: KeyKind) -> None:
    pair = generate(kind)

    assert pair.public_key == nkeys.from_seed(pair.seed.encode()).public_key.decode()


@pytest.mark.parametrize("kind", [KeyKind.USER, KeyKind.ACCOUNT])
def test_a_signature_by_the_nkeys_library_verifies_against_the_public_key(kind: KeyKind) -> None:
    pair = generate(kind)
    signature = nkeys.from_seed(pair.seed.encode()).sign(b"nonce")

    verified = nacl.signing.VerifyKey(_raw_public(pair.public_key)).verify(b"nonce", signature)

    assert verified == b"nonce"


@pytest.mark.parametrize("kind", list(KeyKind))
def test_the_same_entropy_always_yields_the_same_key_pair(kind: KeyKind) -> None:
    assert keypair_from_entropy(kind, ENTROPY) == keypair_from_entropy(kind, bytes(range(32)))


def test_different_kinds_from_the_same_entropy_have_different_public_keys() -> None:
    public_keys = {keypair_from_entropy(kind, ENTROPY).public_key for kind in KeyKind}

    assert len(public_keys) == len(KeyKind)


@pytest.mark.parametrize("kind", list(KeyKind))
def test_base64_entropy_and_byte_entropy_give_the_same_seed(kind: KeyKind) -> None:
    as_text = base64.b64encode(ENTROPY).decode()

    assert seed_from_entropy(kind, as_text) == seed_from_entropy(kind, ENTROPY)


@pytest.mark.parametrize("length", [0, 31, 33, 64])
def test_byte_entropy_of_the_wrong_length_is_refused(length: int) -> None:
    with pytest.raises(ValueError, match="exactly 32 bytes"):
        seed_from_entropy(KeyKind.USER, bytes(length))


@pytest.mark.parametrize("length", [0, 31, 33, 64])
def test_base64_entropy_of_the_wrong_length_is_refused(length: int) -> None:
    with pytest.raises(ValueError, match="exactly 32 bytes"):
        seed_from_entropy(KeyKind.USER, base64.b64encode(bytes(length)).decode())


@pytest.mark.parametrize("text", ["not base64!", "AAAA AAAA", ENTROPY.hex()[:-1]])
def test_entropy_text_that_is_not_base64_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="base64"):
        seed_from_entropy(KeyKind.USER, text)


def test_a_seed_with_a_corrupted_character_is_refused() -> None:
    seed = generate(KeyKind.USER).seed

    with pytest.raises(ValueError, match="checksum"):
        public_key_from_seed(_corrupt(seed))


def test_a_seed_with_a_corrupted_checksum_is_refused() -> None:
    raw = base64.b32decode(generate(KeyKind.USER).seed + "======")
    tampered = raw[:-2] + bytes([raw[-2] ^ 0x01, raw[-1]])
    seed = base64.b32encode(tampered).decode().rstrip("=")

    with pytest.raises(ValueError, match="checksum"):
        public_key_from_seed(seed)


@pytest.mark.parametrize("seed", ["", "SU!!", "su" + "a" * 56, "SUAB"])
def test_a_seed_that_is_not_base32_of_the_right_length_is_refused(seed: str) -> None:
    with pytest.raises(ValueError, match="seed"):
        public_key_from_seed(seed)


def test_a_seed_spelled_with_nonzero_trailing_bits_is_refused() -> None:
    seed = seed_from_entropy(KeyKind.USER, ENTROPY)
    # The low two bits of the last character lie past the 36th byte, where a decoder drops them.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    other_spelling = seed[:-1] + alphabet[alphabet.index(seed[-1]) ^ 0b00001]

    with pytest.raises(ValueError, match="canonical"):
        public_key_from_seed(other_spelling)


def test_an_operator_seed_is_refused_as_an_unsupported_kind() -> None:
    operator_seed = nkeys.encode_seed(ENTROPY, nkeys.PREFIX_BYTE_OPERATOR).decode()

    with pytest.raises(ValueError, match="unsupported key type"):
        public_key_from_seed(operator_seed)


def test_a_public_key_is_refused_as_a_seed() -> None:
    with pytest.raises(ValueError, match="seed"):
        public_key_from_seed(generate(KeyKind.USER).public_key)


@pytest.mark.parametrize(("kind", "seed_prefix", "public_prefix"), PREFIXES)
def test_seeds_and_public_keys_carry_the_prefix_of_their_kind(
    kind: KeyKind, seed_prefix: str, public_prefix: str
) -> None:
    pair = generate(kind)

    assert (pair.seed[:2], pair.public_key[:1]) == (seed_prefix, public_prefix)


def test_a_curve_public_key_holds_the_x25519_public_key_of_the_seed_entropy() -> None:
    pair = keypair_from_entropy(KeyKind.CURVE, ENTROPY)

    assert _raw_public(pair.public_key) == bytes(nacl.public.PrivateKey(ENTROPY).public_key)


def test_a_curve_public_key_differs_from_the_ed25519_key_of_the_same_entropy() -> None:
    curve = keypair_from_entropy(KeyKind.CURVE, ENTROPY)

    assert _raw_public(curve.public_key) != bytes(nacl.signing.SigningKey(ENTROPY).verify_key)


def test_the_repr_of_a_key_pair_hides_the_seed() -> None:
    pair = generate(KeyKind.USER)

    assert pair.seed not in repr(pair)


def test_the_str_of_a_key_pair_hides_the_seed() -> None:
    pair = generate(KeyKind.USER)

    assert pair.seed not in str(pair)


def test_the_repr_of_a_key_pair_shows_the_public_key() -> None:
    pair = generate(KeyKind.ACCOUNT)

    assert pair.public_key in repr(pair)


def test_generate_gives_a_fresh_key_each_call() -> None:
    assert generate(KeyKind.USER).seed != generate(KeyKind.USER).seed


@pytest.mark.parametrize("kind", list(KeyKind))
def test_kind_of_public_key_names_the_kind_the_key_was_made_for(kind: KeyKind) -> None:
    assert kind_of_public_key(generate(kind).public_key) is kind


def test_a_public_key_with_a_corrupted_character_has_no_kind() -> None:
    with pytest.raises(ValueError, match="checksum"):
        kind_of_public_key(_corrupt(generate(KeyKind.ACCOUNT).public_key))


def test_a_seed_has_no_public_key_kind() -> None:
    with pytest.raises(ValueError, match="public key"):
        kind_of_public_key(generate(KeyKind.ACCOUNT).seed)


def test_an_operator_public_key_has_no_supported_kind() -> None:
    operator_seed = nkeys.encode_seed(ENTROPY, nkeys.PREFIX_BYTE_OPERATOR)
    operator_public = nkeys.from_seed(operator_seed).public_key.decode()

    with pytest.raises(ValueError, match="unsupported key type"):
        kind_of_public_key(operator_public)


def test_is_public_key_accepts_a_key_of_the_asked_kind() -> None:
    assert is_public_key(generate(KeyKind.CURVE).public_key, KeyKind.CURVE)


def test_is_public_key_rejects_a_key_of_another_kind() -> None:
    assert not is_public_key(generate(KeyKind.USER).public_key, KeyKind.ACCOUNT)


def test_is_public_key_rejects_a_corrupted_key() -> None:
    assert not is_public_key(_corrupt(generate(KeyKind.USER).public_key), KeyKind.USER)


@given(entropy=st.binary(min_size=32, max_size=32), kind=st.sampled_from(KeyKind))
def test_any_entropy_round_trips_from_seed_to_a_public_key_of_the_same_kind(entropy: bytes, kind: KeyKind) -> None:
    pair = keypair_from_entropy(kind, entropy)

    assert kind_of_public_key(public_key_from_seed(pair.seed)) is kind


@given(entropy=st.binary(min_size=32, max_size=32), kind=st.sampled_from(KeyKind))
def test_any_entropy_gives_keys_with_the_prefixes_of_their_kind(entropy: bytes, kind: KeyKind) -> None:
    pair = keypair_from_entropy(kind, entropy)

    assert (pair.seed[:2], pair.public_key[0]) == (kind.seed_prefix, kind.public_prefix)


@given(
    entropy=st.binary(min_size=32, max_size=32),
    kind=st.sampled_from([KeyKind.USER, KeyKind.ACCOUNT]),
)
def test_any_signing_key_agrees_with_the_nkeys_library(entropy: bytes, kind: KeyKind) -> None:
    pair = keypair_from_entropy(kind, entropy)

    assert pair.public_key == nkeys.from_seed(pair.seed.encode()).public_key.decode()


@given(entropy=st.binary(min_size=32, max_size=32))
def test_any_curve_key_agrees_with_pynacl_x25519(entropy: bytes) -> None:
    pair = keypair_from_entropy(KeyKind.CURVE, entropy)

    assert _raw_public(pair.public_key) == bytes(nacl.public.PrivateKey(entropy).public_key)


def test_a_key_pair_is_immutable() -> None:
    pair: KeyPair = generate(KeyKind.USER)

    with pytest.raises(AttributeError):
        pair.seed = "changed"  # type: ignore[misc]
