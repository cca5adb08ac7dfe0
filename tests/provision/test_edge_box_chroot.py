"""The edge_box role applied for real, through Ansible's chroot connection, to a Debian 12 rootfs.

The rootfs comes from a cached debootstrap tarball; pip's cache is bind-mounted so that reruns
download nothing. Checks inside the rootfs: files and modes, the unit file (systemd-analyze
verify), the nftables ruleset (nft -c -f), ``vigie edge check-config``, then a second run that
must change nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.modelstore import ModelStore
from tests.provision import kit

pytestmark = pytest.mark.slow

CAMERA = {
    "name": "cam-01",
    "source": "rtsp://192.0.2.50:554/stream1",
    "zones": [{"name": "door", "polygon": [[0.1, 0.1], [0.9, 0.1], [0.9, 0.9], [0.1, 0.9]]}],
    "rules": [{"type": "intrusion", "zone": "door", "dwell_s": 2.0, "severity": "critical"}],
}
# The full `edge` extra (onnxruntime, OpenCV, OpenVINO, LiteRT) is what a box runs; set
# VIGIE_CHROOT_EXTRAS="" to install only the base dependencies (enough for check-config).
EXTRAS = [e for e in os.environ.get("VIGIE_CHROOT_EXTRAS", "edge").split(",") if e]


def chroot(rootfs: Path, *cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["chroot", str(rootfs), *cmd], capture_output=True, text=True, timeout=120)


@pytest.fixture
def rootfs(tmp_path: Path) -> Iterator[Path]:
    if shutil.which("debootstrap") is None:
        pytest.fail("debootstrap is not installed: run `make test` as root or apt-get install debootstrap")
    tarball = kit.bootstrap_tarball()
    root = tmp_path / "rootfs"
    root.mkdir()
    subprocess.run(["tar", "-C", str(root), "--numeric-owner", "-xpf", str(tarball)], check=True)
    shutil.copyfile("/etc/resolv.conf", root / "etc/resolv.conf")  # pip reaches PyPI from inside
    yield root
    if kit.mounted(root):  # never delete through a bind mount (it would delete host files)
        pytest.fail(f"mounts left under {root}; not deleting it")
    shutil.rmtree(root)  # about 1 GB: do not leave it to pytest's rotation


def test_edge_box_role_in_chroot(rootfs: Path, tmp_path: Path, model_store: ModelStore,
                                 output_dir: Path) -> None:
    wheel = kit.build_wheel(tmp_path / "dist")
    pki = tmp_path / "pki"
    inventory = kit.write_yaml(tmp_path / "hosts.yml", {"all": {"children": {"edge_boxes": {"hosts": {
        "testbox": {
            "ansible_connection": "community.general.chroot",
            "ansible_host": str(rootfs),
            "ansible_python_interpreter": "/usr/bin/python3",
            "vigie_site": "testsite",
            "edge_box_cameras": [CAMERA],
            "edge_box_offline": True,
            "edge_box_wheel": str(wheel),
            "edge_box_pip_extras": EXTRAS,
            "edge_box_pki_dir": str(pki),
            "edge_box_model_store": str(model_store.root),
            "edge_box_broker_host": "192.0.2.1",
            "edge_box_dns_servers": ["192.0.2.53"],
            "edge_box_ntp_servers": ["192.0.2.123"],
            "edge_box_ssh_from": ["192.0.2.0/28"],
            # This machine reaches PyPI through a TLS-inspecting proxy whose CA is in the
            # host's bundle only: pip in the rootfs is pointed at that bundle (bind-mounted),
            # the rootfs's own trust store is left as Debian ships it.
            "edge_box_pip_environment": {k: "/run/build-certs/ca-certificates.crt"
                                         for k in ("PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")},
        }}}}}})
    extra = ["-e", f"pki_dir={pki}"]
    pip_cache = kit.CACHE / "pip"
    binds = {"/var/cache/vigie-pip": pip_cache, "/run/build-certs": Path("/etc/ssl/certs")}
    if Path("/opt/wheels").is_dir():  # this machine's local wheel cache (PIP_FIND_LINKS)
        binds["/opt/wheels"] = Path("/opt/wheels")
    with kit.chroot_mounts(rootfs, binds, readonly=frozenset({"/run/build-certs", "/opt/wheels"})):
        rc, out = kit.run_playbook(kit.ROOT / "tests/provision/box.yml", inventory,
                                   output_dir / "run1.log", *extra)
        assert rc == 0, out[-6000:]
        first = kit.recap(out)
        assert first["testbox"]["changed"] > 0 and first["testbox"]["failed"] == 0

        # -- inside the rootfs ------------------------------------------------------------
        cfg = rootfs / "etc/vigie/cam-01.toml"
        assert oct(cfg.stat().st_mode & 0o777) == "0o640"
        assert "vigie:" in (rootfs / "etc/passwd").read_text()
        key = rootfs / "etc/vigie/tls/cam-01/key.pem"
        assert oct(key.stat().st_mode & 0o777) == "0o640" and key.read_bytes() == (
            pki / "devices/testsite/cam-01/key.pem").read_bytes()
        for f in ("yolox_nano.onnx", "face_detection_yunet_2023mar.onnx", "manifest.toml"):
            assert (rootfs / "var/lib/vigie/models" / f).is_file()
        assert (rootfs / "var/lib/vigie/models/yolox_nano.onnx").read_bytes() == model_store.path(
            "yolox-nano").read_bytes()

        check = chroot(rootfs, "/opt/vigie/venv/bin/vigie", "edge", "check-config", "/etc/vigie/cam-01.toml")
        assert check.returncode == 0, check.stderr
        assert "OK (testsite/cam-01, 1 zone(s), 1 rule(s))" in check.stdout

        text = cfg.read_text()
        token = (pki / "devices/testsite/cam-01/device.token").read_text().strip()
        assert f'device_token = "{token}"' in text and 'hub_url = "https://192.0.2.1:443"' in text
        ca = (pki / "ca/ca.pem").read_text().strip()
        assert ca in (rootfs / "etc/ssl/certs/ca-certificates.crt").read_text()  # fleet CA trusted

        # enrol.yml's first step, inside the box: the key is made once, mode 600.
        enrol = chroot(rootfs, "/opt/vigie/venv/bin/vigie", "edge", "enrol", "/etc/vigie/cam-01.toml")
        assert enrol.returncode == 0, enrol.stderr
        site_cam, public = enrol.stdout.split()
        assert site_cam == "testsite/cam-01" and public.startswith("ed25519:")
        box_key = rootfs / "var/lib/vigie/cam-01/keys/box.ed25519"
        assert oct(box_key.stat().st_mode & 0o777) == "0o600"
        again = chroot(rootfs, "/opt/vigie/venv/bin/vigie", "edge", "enrol", "/etc/vigie/cam-01.toml")
        assert again.stdout.split() == [site_cam, public]  # kept, not remade

        nft = chroot(rootfs, "nft", "-c", "-f", "/etc/nftables.conf")
        assert nft.returncode == 0, nft.stderr
        ruleset = (rootfs / "etc/nftables.conf").read_text()
        assert "policy drop" in ruleset and "192.0.2.1 tcp dport 8883 accept" in ruleset

        unit = rootfs / "etc/systemd/system/vigie-edge@.service"
        text = unit.read_text()
        for directive in ("NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes",
                          "Restart=always", "WatchdogSec=", "Type=notify"):
            assert directive in text, directive
        assert (rootfs / "etc/systemd/system/multi-user.target.wants/vigie-edge@cam-01.service").is_symlink()
        assert (rootfs / "etc/systemd/journald.conf.d/50-vigie.conf").is_file()
        verify = chroot(rootfs, "systemd-analyze", "verify", "/etc/systemd/system/vigie-edge@cam-01.service")
        assert verify.returncode == 0, verify.stdout + verify.stderr
        assert "vigie-edge@" not in verify.stderr, verify.stderr  # no warning about our unit

        # -- idempotence ----------------------------------------------------------------
        rc, out = kit.run_playbook(kit.ROOT / "tests/provision/box.yml", inventory,
                                   output_dir / "run2.log", *extra)
        assert rc == 0, out[-6000:]
        second = kit.recap(out)
        assert second["testbox"]["changed"] == 0, kit.changed_tasks(out)
        assert second["localhost"]["changed"] == 0, kit.changed_tasks(out)
    (output_dir / "recap.txt").write_text(f"first: {first}\nsecond: {second}\n")
