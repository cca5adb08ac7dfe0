"""The processing register lists every camera and rule of the test configuration, with zones,
masks, audio and its legal basis, retention, recipients and data flows; never a credential."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from central import db as hubdb
from central.users import add_user
from edge.cli import main

GATE = """\
site = "marseille"
camera = "gate-01"
[source]
url = "rtsp://viewer:s3cret-pw@10.0.0.7:554/stream1"
[[zones]]
name = "forecourt"
polygon = [[0.1, 0.5], [0.9, 0.5], [0.9, 1.0], [0.1, 1.0]]
[[zones]]
name = "lane"
polygon = [[0.0, 0.0], [0.5, 0.0], [0.5, 0.4]]
[[rules]]
type = "intrusion"
zone = "forecourt"
dwell_s = 2
[[rules]]
type = "wrong_way"
zone = "lane"
direction = [1, 0]
[[rules]]
type = "person_down"
[[rules]]
type = "camera_tamper"
[[privacy_masks]]
name = "neighbour-windows"
polygon = [[0.6, 0.0], [1.0, 0.0], [1.0, 0.3]]
[audio]
enabled = true
legal_basis = "prefectoral order 2026-123, DPIA ref. MRS-17"
[upload]
hub_url = "https://hub.vigie.example/"
device_token = "device-token-0123456789abcdef"
"""

COUNTER = """\
site = "marseille"
camera = "square-02"
mode = "statistics"
[source]
device = 0
[[lines]]
name = "entrance"
a = [0.2, 0.5]
b = [0.8, 0.5]
"""

PARK = """\
site = "lyon"
camera = "park-03"
[source]
url = "video.mp4"
[[rules]]
type = "camera_tamper"
severity = "info"
"""


def test_register_lists_every_camera_and_rule(tmp_path: Path) -> None:
    boxes = tmp_path / "boxes"
    boxes.mkdir()
    (boxes / "gate.toml").write_text(GATE)
    (boxes / "counter.toml").write_text(COUNTER)
    park = tmp_path / "park.toml"
    park.write_text(PARK)
    hub = tmp_path / "hub.toml"
    hub.write_text('database = "hub.sqlite"\nretention_days = 7\n')
    db = hubdb.connect(tmp_path / "hub.sqlite")
    add_user(db, "ana", "correct horse battery", "operator")
    add_user(db, "bob", "correct horse battery", "operator")
    add_user(db, "dpo", "correct horse battery", "privacy_officer")
    db.conn.close()
    out = tmp_path / "reg"
    r = CliRunner().invoke(main, ["privacy", "register", "--box-config", str(boxes), "--box-config",
                                  str(park), "--config", str(hub), "--controller", "Ville de Marseille",
                                  "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "registre de 3 caméra(s) sur 2 site(s), 5 règle(s)" in r.output
    doc = json.loads((out / "register.json").read_text())
    html = (out / "register.html").read_text()
    cams = {(c["site"], c["camera"]): c for c in doc["cameras"]}
    assert set(cams) == {("marseille", "gate-01"), ("marseille", "square-02"), ("lyon", "park-03")}
    gate = cams[("marseille", "gate-01")]
    assert [(x["type"], x["zone"]) for x in gate["rules"]] == [
        ("intrusion", "forecourt"), ("wrong_way", "lane"), ("person_down", None),
        ("camera_tamper", None)]
    assert [z["name"] for z in gate["zones"]] == ["forecourt", "lane"]
    assert [m["name"] for m in gate["masks"]] == ["neighbour-windows"]
    assert gate["audio"]["enabled"] and gate["audio"]["legal_basis"].startswith("prefectoral order")
    assert gate["clips"] == {"enabled": True, "anonymize": "faces+persons", "hub": "hub.vigie.example"}
    assert gate["source"] == "flux rtsp depuis 10.0.0.7:554"
    counter = cams[("marseille", "square-02")]
    assert counter["mode"] == "statistics" and counter["rules"] == [] and counter["lines"] == ["entrance"]
    assert not any("event messages" in x for x in counter["leaves_the_box"])
    assert doc["retention"]["days"] == 7 and doc["retention"]["legal_max_days"] == 30
    people = {x["role"]: x["people"] for x in doc["recipients"]}
    assert people == {"operator": 2, "supervisor": 0, "privacy_officer": 1, "admin": 0,
                      "investigator": 0}
    for c in cams.values():  # every camera and every rule is in the HTML document too
        assert f"{c['site']}/{c['camera']}" in html
        for rule in c["rules"]:
            assert f"<td>{rule['type']}</td>" in html
    assert "prefectoral order 2026-123" in html and "Ville de Marseille" in html
    for section in ("Finalités", "Base légale", "Catégories de données",  # CNIL-style, French
                    "Catégories de personnes concernées", "Destinataires",
                    "Durées de conservation", "Transferts", "Mesures de sécurité"):
        assert f">{section}</h2>" in html, section
    assert doc["language"] == "fr" and "hors de l'Union européenne" in doc["transfers"]
    assert "Durée de conservation en vigueur au hub : 7 jours" in html
    assert any("index des trajectoires" in s for s in gate["stays_on_the_box"])
    for secret in ("s3cret-pw", "viewer", "device-token-0123456789abcdef"):
        assert secret not in html and secret not in json.dumps(doc)


def test_register_in_english_on_request(tmp_path: Path) -> None:
    (tmp_path / "park.toml").write_text(PARK)
    out = tmp_path / "reg"
    r = CliRunner().invoke(main, ["privacy", "register", "--box-config", str(tmp_path / "park.toml"),
                                  "--language", "en", "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "register of 1 camera(s) on 1 site(s), 1 rule(s)" in r.output
    html = (out / "register.html").read_text()
    for section in ("Purposes", "Legal basis", "Recipients", "Retention periods", "Transfers",
                    "Security measures"):
        assert f">{section}</h2>" in html, section
    assert "Finalités" not in html and '<html lang="en">' in html


def test_register_refuses_bad_and_duplicate_configs(tmp_path: Path) -> None:
    a = tmp_path / "a.toml"
    a.write_text(PARK)
    b = tmp_path / "b.toml"
    b.write_text(PARK)
    r = CliRunner().invoke(main, ["privacy", "register", "--box-config", str(a), "--box-config", str(b),
                                  "-o", str(tmp_path / "o")])
    assert r.exit_code != 0 and "both configure lyon/park-03" in r.output
    bad = tmp_path / "bad.toml"
    bad.write_text(PARK.replace('type = "camera_tamper"', 'type = "face_recognition"'))
    r = CliRunner().invoke(main, ["privacy", "register", "--box-config", str(bad), "-o", str(tmp_path / "o")])
    assert r.exit_code != 0 and "bad.toml" in r.output
    r = CliRunner().invoke(main, ["privacy", "register", "--box-config", str(tmp_path / "nope"),
                                  "-o", str(tmp_path / "o")])
    assert r.exit_code != 0 and "no such file or folder" in r.output


def test_egress_verification_report_in_french_by_default(tmp_path: Path) -> None:
    from central.cli.privacy import write_report

    doc = {"generated_at": "2026-12-01T10:00:00Z", "since": None, "ledger_file": None,
           "grace_s": 180.0, "cameras": [{
               "site": "test", "camera": "cam-01", "status": "alert", "enrolled": True,
               "digests": 3, "entries": 40, "head_seq": 41, "receipts": 39,
               "last_digest_at": "2026-12-01T09:59:00Z",
               "findings": [{"seq": 12, "kind": "missing", "detail": "never received"}]}]}
    write_report(tmp_path / "fr", "report", doc, "privacy/verify_report.html")
    html = (tmp_path / "fr" / "report.html").read_text()
    assert "Rapport de vérification des sorties" in html and ">alerte</td>" in html
    assert "Établi le 01/12/2026 11:00:00" in html  # Paris time
    assert "<td>oui</td>" in html and "le premier message" in html
    write_report(tmp_path / "en", "report", doc, "privacy/verify_report.html", "en")
    html = (tmp_path / "en" / "report.html").read_text()
    assert "Egress verification report" in html and ">alert</td>" in html


def test_register_of_the_demo_counts_its_operator_api_token(tmp_path: Path) -> None:
    from central.devtools.demo import write_configs

    video = tmp_path / "video.mp4"
    video.write_bytes(b"")
    hub_cfg, box_cfg = write_configs(tmp_path, video, 1883, 8080)
    out = tmp_path / "reg"
    r = CliRunner().invoke(main, ["privacy", "register", "--box-config", str(box_cfg),
                                  "--config", str(hub_cfg), "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "n'est pas décrit" not in r.output
    doc = json.loads((out / "register.json").read_text())
    clients = {x["role"]: x["machine_clients"] for x in doc["recipients"]}
    assert clients["operator"] == 1 and sum(clients.values()) == 1
    assert {c["kind"]: c["count"] for c in doc["clients"]}["device_tokens"] == 1
    assert all(p["described"] for p in doc["processings"])
    assert doc["cameras"][0]["index"]["enabled"] is True
