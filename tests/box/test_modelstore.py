"""Model store: fetch from a mirror, pinned sha256, clear refusal of a corrupt file."""

from __future__ import annotations

import shutil
from importlib.metadata import distribution
from pathlib import Path

import pytest
from click.testing import CliRunner

from edge.cli import main
from edge.modelstore import Manifest, ModelStore, ModelStoreError, sha256_file


def test_manifest_pins_every_shared_model(shared: Path) -> None:
    """Every file is in ../shared/models, or inside the installed wheel the manifest names."""
    m = Manifest.load()
    for spec in m.models.values():
        for mf in spec.files:
            if mf.package:
                assert mf.package_member and not (shared / "models" / mf.path).exists()
                located = distribution(mf.package).locate_file(mf.package_member)
                assert sha256_file(Path(str(located))) == mf.sha256, mf.path
                continue
            assert sha256_file(shared / "models" / mf.path) == mf.sha256, mf.path
    assert m.get("yolox-nano").labels[0] == "person"
    assert len(m.get("yolox-nano").labels) == 80


def test_fetch_copies_and_verifies(tmp_path: Path, shared: Path) -> None:
    store = ModelStore(tmp_path / "store")
    done = store.fetch(["yolox-nano"], mirror=shared / "models", allow_download=False)
    assert done == [tmp_path / "store" / "yolox_nano.onnx"]
    assert store.path("yolox-nano").is_file()
    assert (tmp_path / "store" / "manifest.toml").is_file()


def test_fetch_takes_a_model_from_its_installed_wheel(tmp_path: Path, shared: Path) -> None:
    """The pose model is not in the mirror: it is copied out of the mediapipe wheel, verified."""
    store = ModelStore(tmp_path / "store")
    done = store.fetch(["blazepose-detector"], mirror=shared / "models", allow_download=False)
    assert done == [tmp_path / "store" / "mediapipe" / "pose_detection.tflite"]
    assert sha256_file(store.path("blazepose-detector")) == store.sha256("blazepose-detector")


def test_fetch_refuses_corrupt_mirror_file_naming_file_and_hashes(tmp_path: Path, shared: Path) -> None:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    data = bytearray((shared / "models" / "yolox_nano.onnx").read_bytes())
    data[1000] ^= 0xFF
    (mirror / "yolox_nano.onnx").write_bytes(bytes(data))
    bad_hash = sha256_file(mirror / "yolox_nano.onnx")
    pinned = Manifest.load().get("yolox-nano").primary.sha256
    result = CliRunner().invoke(
        main,
        ["models", "fetch", "--mirror", str(mirror), "--store", str(tmp_path / "store"),
         "--no-download", "yolox-nano"],
    )
    assert result.exit_code != 0
    assert "yolox_nano.onnx" in result.output
    assert bad_hash in result.output and pinned in result.output
    assert not (tmp_path / "store" / "yolox_nano.onnx").exists()


def test_store_detects_a_file_corrupted_after_fetch(tmp_path: Path, shared: Path) -> None:
    store = ModelStore(tmp_path / "store")
    store.fetch(["yolox-nano"], mirror=shared / "models", allow_download=False)
    p = tmp_path / "store" / "yolox_nano.onnx"
    p.write_bytes(p.read_bytes()[:1000])
    with pytest.raises(ModelStoreError, match="corrupt"):
        store.path("yolox-nano")
    # a second fetch repairs it from the mirror
    store.fetch(["yolox-nano"], mirror=shared / "models", allow_download=False)
    assert store.path("yolox-nano") == p


def test_missing_everywhere_is_a_clear_error(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "store")
    with pytest.raises(ModelStoreError, match="not found"):
        store.fetch(["yolox-nano"], mirror=tmp_path, allow_download=False)
    with pytest.raises(ModelStoreError, match="missing"):
        store.path("yolox-nano")
    with pytest.raises(ModelStoreError, match="not in the manifest"):
        store.path("no-such-model")


def test_status_lists_missing_files(tmp_path: Path, shared: Path) -> None:
    store = ModelStore(tmp_path / "store")
    shutil.copytree(shared / "models", tmp_path / "store", dirs_exist_ok=True)
    (tmp_path / "store" / "yamnet.tflite").unlink()
    states = {path: state for _, path, state in store.status()}
    assert states["yamnet.tflite"] == "missing"
    assert states["yolox_nano.onnx"] == "ok"
