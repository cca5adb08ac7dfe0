"""The pki role renews a certificate that expires within pki_renew_before_days, keeps the rest,
and changes nothing on a run where nothing is due."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.provision import kit

pytestmark = pytest.mark.slow


def _serial(cert: Path) -> str:
    out = subprocess.run(["openssl", "x509", "-noout", "-serial", "-in", str(cert)],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


def _verify(pki: Path, cert: Path) -> None:
    out = subprocess.run(["openssl", "verify", "-CAfile", str(pki / "ca/ca.pem"), str(cert)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_certificates_renewed_when_due_and_only_then(tmp_path: Path) -> None:
    pki = tmp_path / "pki"
    inventory = kit.write_yaml(tmp_path / "hosts.yml", {"all": {"children": {"edge_boxes": {"hosts": {
        "box": {"vigie_site": "s1", "edge_box_cameras": [{"name": "cam-1"}]}}}}}})
    playbook = kit.ROOT / "tests/provision/pki.yml"
    device = pki / "devices/s1/cam-1"

    rc, out = kit.run_playbook(playbook, inventory, tmp_path / "run1.log", "-e", f"pki_dir={pki}")
    assert rc == 0, out[-4000:]
    before = {p: _serial(p) for p in (device / "cert.pem", pki / "hub/cert.pem", pki / "ca/ca.pem")}
    key_before = (device / "key.pem").read_bytes()
    password_before = (device / "mqtt.password").read_text()
    _verify(pki, device / "cert.pem")

    # Certificates last 365 days: asking for 400 days of validity makes every leaf due.
    rc, out = kit.run_playbook(playbook, inventory, tmp_path / "run2.log", "-e", f"pki_dir={pki}",
                               "-e", "pki_renew_before_days=400")
    assert rc == 0, out[-4000:]
    assert _serial(device / "cert.pem") != before[device / "cert.pem"]
    assert _serial(pki / "hub/cert.pem") != before[pki / "hub/cert.pem"]
    assert _serial(pki / "ca/ca.pem") == before[pki / "ca/ca.pem"]  # the CA is not a leaf
    assert (device / "key.pem").read_bytes() == key_before  # renewal keeps the key and password
    assert (device / "mqtt.password").read_text() == password_before
    _verify(pki, device / "cert.pem")

    rc, out = kit.run_playbook(playbook, inventory, tmp_path / "run3.log", "-e", f"pki_dir={pki}")
    assert rc == 0, out[-4000:]
    assert kit.recap(out)["localhost"]["changed"] == 0, kit.changed_tasks(out)
