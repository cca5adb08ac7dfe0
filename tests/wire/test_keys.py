"""Box keys: `vigie edge enrol` makes a private key once (mode 600) and installs the hub's key."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.cli import main
from edge.wire import keys


def _config(tmp_path: Path) -> Path:
    cfg = tmp_path / "box.toml"
    cfg.write_text(f'site = "test"\ncamera = "cam-1"\ndata_dir = "{tmp_path / "data"}"\n'
                   '[source]\nurl = "x.mp4"\n')
    return cfg


def test_enrol_makes_key_once_and_installs_hub_key(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    hub = keys.public_text(Ed25519PrivateKey.generate())
    first = CliRunner().invoke(main, ["edge", "enrol", str(cfg), "--hub-key", hub])
    assert first.exit_code == 0, first.output
    site_cam, pub = first.output.split()
    assert site_cam == "test/cam-1" and pub.startswith("ed25519:")
    key_path = tmp_path / "data" / "keys" / keys.BOX_KEY
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert keys.public_text(keys.load_private(key_path)) == pub
    assert keys.load_public(key_path.parent / keys.HUB_PUBLIC_KEY) is not None
    again = CliRunner().invoke(main, ["edge", "enrol", str(cfg)])
    assert again.exit_code == 0 and again.output.split()[1] == pub  # same key: idempotent


def test_enrol_refuses_a_bad_hub_key_and_a_world_readable_key(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    bad = CliRunner().invoke(main, ["edge", "enrol", str(cfg), "--hub-key", "ed25519:not-base64!"])
    assert bad.exit_code != 0 and "malformed Ed25519 public key" in bad.output
    key_path = tmp_path / "data" / "keys" / keys.BOX_KEY
    key_path.chmod(0o644)
    loose = CliRunner().invoke(main, ["edge", "enrol", str(cfg)])
    assert loose.exit_code != 0 and "chmod 600" in loose.output


def test_sign_and_verify_canonical_json() -> None:
    key = Ed25519PrivateKey.generate()
    pub = keys.parse_public(keys.public_text(key))
    sig = keys.sign(key, {"b": 1, "a": [1, 2]})
    assert keys.verify(pub, {"a": [1, 2], "b": 1}, sig)
    assert not keys.verify(pub, {"a": [1, 2], "b": 2}, sig)
    assert not keys.verify(pub, {"a": [1, 2], "b": 1}, "%%%")
    with pytest.raises(keys.KeyFileError, match="expected ed25519:"):
        keys.parse_public("ssh-ed25519 AAAA")
