"""Static checks of ansible/: yamllint, ansible-lint (production profile), --syntax-check of
every playbook, and the roles' pins agreeing with the project's own contracts."""

from __future__ import annotations

import os
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from tests.provision import kit

PLAYBOOKS = [*sorted(kit.ANSIBLE.glob("*.yml")), kit.ROOT / "images/image.yml",
             *sorted((kit.ROOT / "tests/provision").glob("*.yml"))]


def run(*cmd: str, cwd: Path = kit.ANSIBLE) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, ANSIBLE_CONFIG=str(kit.ANSIBLE / "ansible.cfg"), NO_COLOR="1",
               ANSIBLE_NOCOLOR="1", PATH=f"{kit.BIN}:{os.environ['PATH']}")
    return subprocess.run(list(cmd), cwd=cwd, capture_output=True, text=True, env=env, timeout=600)


def test_yamllint_clean() -> None:
    files = [*(kit.ROOT / "images").glob("*.yml"), *(kit.ROOT / "tests/provision").glob("*.yml")]
    out = run(str(kit.BIN / "yamllint"), "-s", ".", *map(str, files))
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.slow
def test_ansible_lint_clean() -> None:
    out = run(str(kit.BIN / "ansible-lint"), "--offline")
    assert out.returncode == 0, out.stdout[-5000:] + out.stderr[-5000:]
    assert "Profile 'production' was required, and it passed" in out.stderr + out.stdout


def test_syntax_check_every_playbook() -> None:
    names = {p.name for p in PLAYBOOKS}
    assert {"site.yml", "enrol.yml", "flash.yml", "image.yml"} <= names
    out = run(str(kit.BIN / "ansible-playbook"), "--syntax-check", *map(str, PLAYBOOKS))
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.count("playbook: ") == len(PLAYBOOKS), out.stdout


def test_syntax_check_catches_a_broken_playbook(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("- hosts: all\n  tasks:\n    - ansible.builtin.command: true\n      bogus_keyword: 1\n")
    assert run(str(kit.BIN / "ansible-playbook"), "--syntax-check", str(bad)).returncode != 0


def test_model_pins_match_the_manifest() -> None:
    defaults = yaml.safe_load((kit.ANSIBLE / "roles/edge_box/defaults/main.yml").read_text())
    manifest = tomllib.loads((kit.ROOT / "models/manifest.toml").read_text())
    pinned = {f["path"]: f["sha256"] for m in manifest["model"] for f in m["files"]}
    for item in defaults["edge_box_model_files"]:
        assert pinned[item["path"]] == item["sha256"], item["path"]
    # the hub's subject-access export: YOLOX-nano and YuNet, as edge.privacy.redact loads them
    hub = yaml.safe_load((kit.ANSIBLE / "roles/hub/defaults/main.yml").read_text())
    export = {m["name"]: m["files"][0]["path"] for m in manifest["model"]
              if m["name"] in ("yolox-nano", "yunet")}
    assert sorted(i["path"] for i in hub["hub_model_files"]) == sorted(export.values())
    for item in hub["hub_model_files"]:
        assert pinned[item["path"]] == item["sha256"], item["path"]


def test_example_inventory_renders_valid_box_configs(tmp_path: Path) -> None:
    """Every camera of the example inventory gets a config that `vigie edge check-config` accepts
    (rendered by the role's template, as on a box, with placeholder credentials)."""
    hosts = yaml.safe_load((kit.ANSIBLE / "inventory/example/hosts.yml").read_text())
    sites = hosts["all"]["children"]["edge_boxes"]["children"]
    cameras = [(site["vars"]["vigie_site"], cam) for site in sites.values()
               for box in site["hosts"].values() for cam in box["edge_box_cameras"]]
    assert len(cameras) >= 3
    for site, cam in cameras:
        dest = tmp_path / f"{cam['name']}.toml"
        item = dict(cam, mqtt_password="placeholder-password", device_token="placeholder-device-token-0123")
        extra = kit.write_yaml(tmp_path / "vars.yml", {"item": item, "edge_box_site": site,
                                                       "edge_box_pki_dir": str(tmp_path)})
        out = run(str(kit.BIN / "ansible"), "localhost", "-c", "local", "-m", "ansible.builtin.template",
                  "-a", f"src={kit.ANSIBLE}/roles/edge_box/templates/camera.toml.j2 dest={dest}",
                  "-e", f"@{kit.ANSIBLE}/roles/edge_box/defaults/main.yml", "-e", f"@{extra}")
        assert out.returncode == 0, out.stdout + out.stderr
        check = run(str(kit.BIN / "vigie"), "edge", "check-config", str(dest))
        assert check.returncode == 0, dest.read_text() + check.stderr
        summary = f"({site}/{cam['name']}, {len(cam['zones'])} zone(s), {len(cam['rules'])} rule(s))"
        assert summary in check.stdout


def test_hub_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    """The hub role's units, rendered by Ansible with this checkout's venv as the hub's, are
    accepted by `systemd-analyze verify` without a warning (unknown keys only warn)."""
    units = ["vigie-hub-ingest.service", "vigie-hub-web.service", "vigie-hub-backup.service",
             "vigie-hub-backup.timer"]
    play = kit.write_yaml(tmp_path / "units.yml", [{
        "name": "Render the hub's units", "hosts": "localhost", "connection": "local",
        "gather_facts": False,
        "vars_files": [str(kit.ANSIBLE / "roles/hub/defaults/main.yml")],
        "tasks": [{"name": "Render", "ansible.builtin.template": {
            "src": f"{kit.ANSIBLE}/roles/hub/templates/{{{{ item }}}}.j2",
            "dest": f"{tmp_path}/{{{{ item }}}}", "mode": "0644"}, "loop": units}],
    }])
    out = run(str(kit.BIN / "ansible-playbook"), str(play), "-e", f"hub_venv={kit.BIN.parent}")
    assert out.returncode == 0, out.stdout + out.stderr
    verify = run("systemd-analyze", "verify", *units, cwd=tmp_path)
    assert verify.returncode == 0 and not verify.stderr.strip(), verify.stdout + verify.stderr
    # subject-access export finds its models where the role's model tasks put them
    assert "Environment=VIGIE_MODELS=/var/lib/vigie-hub/models\n" in (
        tmp_path / "vigie-hub-web.service").read_text()
