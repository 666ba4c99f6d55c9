"""NATS NKey seeds and public keys derived from 32 bytes of entropy."""

from __future__ import annotations

import base64
import binascii
import enum
import os
from dataclasses import dataclass, field

import nacl.public
import nacl.signing

_PREFIX_SEED = 18 << 3
_RAW_LEN = 32
_CRC_LEN = 2


class KeyKind(enum.Enum):
    """The NKey roles this project issues, valued by their prefix byte."""

    USER = 20 << 3
    ACCOUNT = 0
    CURVE = 23 << 3

    @property
    def public_prefix(self) -> str:
        return _b32encode(bytes([self.value]))[0]

    @property
    def seed_prefix(self) -> str:
        return "S" + self.public_prefix


@dataclass(frozen=True)
class KeyPair:
    """A seed and its public key; the seed stays out of repr so it never lands in logs."""

    kind: KeyKind
    seed: str = field(repr=False)
    public_key: str


def _crc16(data: bytes) -> int:
    # CRC-16/XMODEM, the checksum NATS appends to every encoded key.
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def _b32encode(data: bytes) -> str:
    return base64.b32encode(data).decode("ascii").rstrip("=")


def _checked_decode(text: str, expected_len: int, what: str) -> bytes:
    """Base32-decode `text` and strip its CRC, refusing anything that is not a canonical NKey."""
    if not text.isascii():
        raise ValueError(f"{what} must be ASCII base32 text")
    try:
        raw = base64.b32decode(text + "=" * (-len(text) % 8))
    except binascii.Error as exc:
        raise ValueError(f"{what} is not valid base32: {exc}") from exc
    if len(raw) != expected_len:
        raise ValueError(f"{what} decodes to {len(raw)} bytes, expected {expected_len}")
    # Trailing base32 bits are ignored by the decoder, so two spellings could name one key.
    if _b32encode(raw) != text:
        raise ValueError(f"{what} is not canonical base32")
    body, crc = raw[:-_CRC_LEN], raw[-_CRC_LEN:]
    if _crc16(body).to_bytes(_CRC_LEN, "little") != crc:
        raise ValueError(f"{what} has a bad checksum")
    return body


def _entropy_bytes(entropy: bytes | str) -> bytes:
    if isinstance(entropy, str):
        try:
            raw = base64.b64decode(entropy, validate=True)
        except binascii.Error as exc:
            raise ValueError(f"entropy text is not valid base64: {exc}") from exc
    else:
        raw = bytes(entropy)
    if len(raw) != _RAW_LEN:
        raise ValueError(f"entropy must be exactly {_RAW_LEN} bytes, got {len(raw)}")
    return raw


def seed_from_entropy(kind: KeyKind, entropy: bytes | str) -> str:
    """Encode 32 bytes (raw, or base64 text as Pulumi's RandomBytes gives it) as a seed of `kind`."""
    raw = _entropy_bytes(entropy)
    header = bytes([_PREFIX_SEED | (kind.value >> 5), (kind.value & 31) << 3])
    body = header + raw
    return _b32encode(body + _crc16(body).to_bytes(_CRC_LEN, "little"))


def _decode_seed(seed: str) -> tuple[KeyKind, bytes]:
    body = _checked_decode(seed, 2 + _RAW_LEN + _CRC_LEN, "seed")
    if body[0] & 0b11111000 != _PREFIX_SEED:
        raise ValueError("seed does not start with the seed prefix 'S'")
    prefix = ((body[0] & 0b111) << 5) | (body[1] >> 3)
    try:
        kind = KeyKind(prefix)
    except ValueError:
        raise ValueError(f"seed has unsupported key type byte {prefix}") from None
    return kind, body[2:]


def _public_bytes(kind: KeyKind, raw: bytes) -> bytes:
    if kind is KeyKind.CURVE:
        return bytes(nacl.public.PrivateKey(raw).public_key)
    return bytes(nacl.signing.SigningKey(raw).verify_key)


def public_key_from_seed(seed: str) -> str:
    """Return the public key that belongs to a user, account or curve seed."""
    kind, raw = _decode_seed(seed)
    body = bytes([kind.value]) + _public_bytes(kind, raw)
    return _b32encode(body + _crc16(body).to_bytes(_CRC_LEN, "little"))


def keypair_from_entropy(kind: KeyKind, entropy: bytes | str) -> KeyPair:
    seed = seed_from_entropy(kind, entropy)
    return KeyPair(kind=kind, seed=seed, public_key=public_key_from_seed(seed))


def generate(kind: KeyKind) -> KeyPair:
    """Make a fresh key pair from the OS random source, for local runs and tests."""
    return keypair_from_entropy(kind, os.urandom(_RAW_LEN))


def kind_of_public_key(public_key: str) -> KeyKind:
    """Return the kind of a user, account or curve public key, checking its CRC."""
    body = _checked_decode(public_key, 1 + _RAW_LEN + _CRC_LEN, "public key")
    try:
        return KeyKind(body[0])
    except ValueError:
        raise ValueError(f"public key has unsupported key type byte {body[0]}") from None


def is_public_key(value: str, kind: KeyKind) -> bool:
    try:
        return kind_of_public_key(value) is kind
    except ValueError:
        return False
