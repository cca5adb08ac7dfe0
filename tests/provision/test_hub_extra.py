"""A hub installed as the hub role installs it (the wheel with the ``hub`` extra only, in a
fresh virtualenv) makes a subject-access export.

The virtualenv is cached under ``~/.cache/vigie/`` keyed by the hash of ``pyproject.toml``
(its dependencies); each run reinstalls the freshly built wheel into it without dependencies.
No box runtime other than ONNX Runtime is there (no OpenVINO, LiteRT or audio stack), and the
repository is not on the path: the hub runs from the installed wheel, its models from
``$VIGIE_MODELS`` pointing at the folder the hub role's model tasks wrote (from the test's model
store, as from a control node's). ``vigie hub serve`` runs in that venv; the clip arrives over
HTTP with a device token, and a privacy officer's token exports it.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
import requests

from central.devtools.broker import free_port, wait_port
from edge.clips.encode import encode
from edge.modelstore import ModelStore
from tests.kits.hubkit import insert_event
from tests.provision import kit

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]  # the first install downloads wheels

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path.home() / ".cache" / "vigie"
OFFICER = "hub-extra-officer-token"
DEVICE = "hub-extra-device-token"
FRAMES = 20
ABSENT = ("openvino", "sounddevice", "ai_edge_litert", "soundfile", "nncf")
"""Box-only and audio packages: none may come with the ``hub`` extra."""


def venv_env() -> dict[str, str]:
    """The environment of the venv's processes: no PYTHONPATH, so the repository is not used."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return {**env, "PYTHONUNBUFFERED": "1"}


def run(python: Path, *args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(python), *args], capture_output=True, text=True, cwd=cwd,
                          env=venv_env(), timeout=timeout)


def pip(python: Path, *args: str, cwd: Path) -> None:
    out = run(python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *args,
              cwd=cwd, timeout=1500)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]


@pytest.fixture(scope="module")
def hub_venv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The python of a venv holding the wheel with its ``hub`` extra and nothing else."""
    key = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()[:16]
    venv = CACHE / f"hub-extra-venv-{key}"
    work = tmp_path_factory.mktemp("hub-extra")
    wheel = kit.build_wheel(work / "dist")
    CACHE.mkdir(parents=True, exist_ok=True)
    python = venv / "bin" / "python"
    with (CACHE / f"hub-extra-venv-{key}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another run may be building the same venv
        if (venv / ".complete").is_file():
            pip(python, "--no-deps", "--force-reinstall", str(wheel), cwd=work)
        else:
            shutil.rmtree(venv, ignore_errors=True)
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
            pip(python, f"{wheel}[hub]", cwd=work)
            (venv / ".complete").write_text(wheel.name + "\n")
    yield python


PROBE = """
import importlib, json, sys
found = {}
for name in sys.argv[1:]:
    try:
        found[name] = getattr(importlib.import_module(name), "__file__", None) or "namespace"
    except ModuleNotFoundError as exc:
        found[name] = None if exc.name == name.split(".")[0] else f"broken: {exc}"
print(json.dumps(found))
"""


def test_the_venv_holds_the_hub_extra_only(hub_venv: Path, tmp_path: Path) -> None:
    present = ("central", "edge", "edge.privacy.redact", "onnxruntime", "cv2", "flask", "waitress",
               "argon2")
    out = run(hub_venv, "-c", PROBE, *present, *ABSENT, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    found = json.loads(out.stdout)
    assert {n: found[n] for n in ABSENT} == dict.fromkeys(ABSENT), found
    assert all(found[n] and not found[n].startswith("broken") for n in present), found
    for code in ("central", "edge"):  # the installed wheel, not the checkout
        assert Path(found[code]).is_relative_to(hub_venv.parent.parent), found[code]
    check = run(hub_venv, "-m", "pip", "check", cwd=tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr


def apply_model_tasks(store: Path, dest: Path, log: Path) -> tuple[int, str]:
    """The hub role's model tasks (tests/provision/hub_models.yml) from ``store`` into ``dest``."""
    inventory = kit.write_yaml(log.with_suffix(".hosts.yml"), {"all": {"hosts": {"localhost": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}})
    extra = kit.write_yaml(log.with_suffix(".vars.yml"), {
        "hub_model_store": str(store), "hub_models_dir": str(dest), "hub_user": "root",
        "hub_manage_services": False})
    return kit.run_playbook(ROOT / "tests/provision/hub_models.yml", inventory, log, "-e", f"@{extra}")


@pytest.fixture(scope="module")
def role_models(model_store: ModelStore, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The models folder the hub role writes, from the test's model store."""
    work = tmp_path_factory.mktemp("hub-role")
    dest = work / "hub-models"
    rc, out = apply_model_tasks(model_store.root, dest, work / "models-role.log")
    assert rc == 0, out[-5000:]
    return dest


def test_the_hub_role_copies_the_export_models_and_refuses_altered_ones(
    role_models: Path, model_store: ModelStore, tmp_path: Path,
) -> None:
    copied = sorted(p.name for p in role_models.iterdir())
    assert copied == ["face_detection_yunet_2023mar.onnx", "manifest.toml", "yolox_nano.onnx"]
    assert (role_models / "manifest.toml").read_bytes() == (ROOT / "models/manifest.toml").read_bytes()
    for name in ("yolox-nano", "yunet"):
        assert ModelStore(role_models).path(name).read_bytes() == model_store.path(name).read_bytes()
    assert oct(role_models.stat().st_mode & 0o777) == "0o750"
    # a store whose YuNet was altered is refused before anything is copied
    bad = tmp_path / "bad-store"
    bad.mkdir()
    (bad / "yolox_nano.onnx").symlink_to(model_store.path("yolox-nano"))
    yunet = model_store.path("yunet").read_bytes()
    (bad / "face_detection_yunet_2023mar.onnx").write_bytes(yunet[:-1] + bytes([yunet[-1] ^ 1]))
    rc, out = apply_model_tasks(bad, tmp_path / "bad-dest", tmp_path / "bad-role.log")
    assert rc != 0 and "face_detection_yunet_2023mar.onnx is missing or its sha256 is not" in out, out[-3000:]
    assert not (tmp_path / "bad-dest").exists()


def person_clip(media: Path, dest: Path) -> Path:
    """Two seconds of the sample video with a visitor facing the camera, as VP8 WebM."""
    cap = cv2.VideoCapture(str(media / "video" / "one-by-one-person-detection.mp4"))
    cap.set(cv2.CAP_PROP_POS_FRAMES, 270)
    images = [cap.read()[1] for _ in range(FRAMES)]
    cap.release()
    assert all(isinstance(im, np.ndarray) for im in images)
    return encode(images, 10.0, dest, 64 * 1024 * 1024).path


def test_subject_access_export_on_the_installed_hub(
    hub_venv: Path, role_models: Path, model_store: ModelStore, media: Path, tmp_path: Path,
) -> None:
    port = free_port()
    cfg = tmp_path / "hub.toml"
    cfg.write_text(
        f'database = "hub.sqlite"\nport = {port}\n[clips]\ndir = "clips"\n'
        f'[api_tokens]\n{OFFICER} = {{ actor = "dpo", role = "privacy_officer" }}\n'
        f'[device_tokens]\n{DEVICE} = {{ site = "test", camera = "cam-01" }}\n')
    log = (tmp_path / "serve.log").open("wb")
    serve = subprocess.Popen(
        [str(hub_venv), "-m", "edge.cli", "hub", "serve", "--config", str(cfg)], cwd=tmp_path,
        stdout=log, stderr=subprocess.STDOUT, env={**venv_env(), "VIGIE_MODELS": str(role_models)})
    try:
        assert wait_port(port, 60, serve), (tmp_path / "serve.log").read_text()
        url = f"http://127.0.0.1:{port}"
        officer = {"Authorization": f"Bearer {OFFICER}"}
        event_id = insert_event(tmp_path / "hub.sqlite", camera="cam-01")  # as ingest stores it
        data = person_clip(media, tmp_path / "visitor.webm").read_bytes()
        r = requests.put(f"{url}/api/v1/events/{event_id}/clip", data=data, timeout=120, headers={
            "Authorization": f"Bearer {DEVICE}", "Content-Type": "video/webm",
            "X-Content-SHA256": hashlib.sha256(data).hexdigest()})
        assert r.status_code == 201, r.text

        r = requests.get(f"{url}/api/v1/privacy/access/{event_id}/persons", params={"frame": 10},
                         headers=officer, timeout=300)
        assert r.status_code == 200, (r.text, (tmp_path / "serve.log").read_text()[-3000:])
        assert r.json()["frames"] == FRAMES and r.json()["persons"], r.json()
        box = max(r.json()["persons"], key=lambda p: p[2] * p[3])
        r = requests.post(f"{url}/api/v1/privacy/access/{event_id}/export", headers=officer,
                          json={"frame": 10, "box": box, "reason": "SAR 2026-118, requester letter"},
                          timeout=600)
        assert r.status_code == 200, (r.text, (tmp_path / "serve.log").read_text()[-3000:])
        assert r.headers["Content-Type"] == "application/zip"
    finally:
        serve.terminate()
        serve.wait(15)
        log.close()

    with zipfile.ZipFile(io.BytesIO(r.content)) as z:
        assert sorted(z.namelist()) == ["LISEZMOI.txt", "clip.webm", "manifest.json"]
        manifest = json.loads(z.read("manifest.json"))
        clip = z.read("clip.webm")
    assert manifest["what"]["event_id"] == event_id
    assert manifest["what"]["source_clip_sha256"] == hashlib.sha256(data).hexdigest()
    assert manifest["what"]["export_sha256"] == hashlib.sha256(clip).hexdigest()
    assert manifest["what"]["frames"] == FRAMES
    assert manifest["subject"]["frames_tracked"] > FRAMES // 2, manifest["subject"]
    assert manifest["others"]["models"] == {
        "yolox-nano": model_store.sha256("yolox-nano"), "yunet": model_store.sha256("yunet")}
    assert clip[:4] == b"\x1a\x45\xdf\xa3"  # EBML: a WebM
