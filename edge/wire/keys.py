"""Ed25519 keys: each box's signing key (made at enrolment) and the hub's public key.

A box keeps, in ``<data_dir>/keys/``:

- ``box.ed25519``: its private key (PEM, PKCS#8, mode 600), made once by ``vigie edge enrol``;
  it signs ledger digests and search answers. The public half is registered at the hub.
- ``hub.ed25519.pub``: the hub's public key, installed at enrolment; boxes check search
  requests and configuration updates against it.

Public keys travel as ``ed25519:<base64 of the 32 raw bytes>``; signatures are base64 over
the canonical JSON (sorted keys, no spaces) of the signed object.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import stat
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from edge.wire.ledger_entries import canonical

log = logging.getLogger(__name__)

BOX_KEY = "box.ed25519"
HUB_PUBLIC_KEY = "hub.ed25519.pub"
PREFIX = "ed25519:"


class KeyFileError(Exception):
    """A key that is missing, unreadable, malformed or too widely readable (the text says which)."""


def keys_dir(data_dir: Path) -> Path:
    return data_dir / "keys"


def generate_private(path: Path) -> Ed25519PrivateKey:
    """Make a new key at ``path`` with mode 600; refuse to overwrite an existing one."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyFileError(f"{path} already exists; refusing to replace a key (remove it first "
                           "to re-enrol, then register the new public key at the hub)") from None
    try:
        os.write(fd, pem)
        os.fsync(fd)
    finally:
        os.close(fd)
    return key


def load_or_generate(path: Path) -> tuple[Ed25519PrivateKey, bool]:
    """The key at ``path``, made first (mode 600) when there is none; True when it was made."""
    if path.exists():
        return load_private(path), False
    return generate_private(path), True


def load_private(path: Path) -> Ed25519PrivateKey:
    """Read a private key; refuse one that others than its owner can read."""
    try:
        mode = path.stat().st_mode
        data = path.read_bytes()
    except FileNotFoundError:
        raise KeyFileError(f"no key at {path}: run `vigie edge enrol` on this box first") from None
    except OSError as exc:
        raise KeyFileError(f"cannot read key {path}: {exc.strerror}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(f"key {path} is readable by others (mode {stat.S_IMODE(mode):o}); "
                           f"run: chmod 600 {path}")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise KeyFileError(f"{path} is not a PEM private key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{path} holds a {type(key).__name__}, not an Ed25519 key")
    return key


def public_text(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """``ed25519:<base64>`` of a key's public half."""
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return PREFIX + base64.b64encode(raw).decode()


def parse_public(text: str) -> Ed25519PublicKey:
    """Read ``ed25519:<base64>`` (surrounding whitespace allowed)."""
    text = text.strip()
    if not text.startswith(PREFIX):
        raise KeyFileError(f"not an Ed25519 public key (expected {PREFIX}<base64>): {text[:40]!r}")
    try:
        raw = base64.b64decode(text[len(PREFIX):], validate=True)
        return Ed25519PublicKey.from_public_bytes(raw)
    except (binascii.Error, ValueError) as exc:
        raise KeyFileError(f"malformed Ed25519 public key {text[:40]!r}: {exc}") from None


def load_public(path: Path) -> Ed25519PublicKey:
    try:
        return parse_public(path.read_text(encoding="ascii"))
    except FileNotFoundError:
        raise KeyFileError(f"no public key at {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyFileError(f"cannot read public key {path}: {exc}") from None


def write_public(path: Path, text: str) -> None:
    """Install a public key (checked first) at ``path``, mode 644."""
    parse_public(text)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text.strip() + "\n", encoding="ascii")
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def sign(key: Ed25519PrivateKey, obj: object) -> str:
    """Base64 Ed25519 signature over the canonical JSON of ``obj``."""
    return base64.b64encode(key.sign(canonical(obj))).decode()


def verify(pub: Ed25519PublicKey, obj: object, signature: str) -> bool:
    """True when ``signature`` is a valid signature of ``obj``'s canonical JSON."""
    try:
        pub.verify(base64.b64decode(signature, validate=True), canonical(obj))
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True
