"""The hub's side of forensic search: the investigator role, a checked question (case and
reason required, no person attribute), the hub key (`vigie hub keygen`), need-to-know access,
searches with an offline box, an answer from an unasked camera, the search pages."""

from __future__ import annotations

import re
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests
from click.testing import CliRunner
from playwright.sync_api import Browser, expect

from central import db as hubdb
from central.config import HubBroker
from central.devtools.broker import LocalBroker
from edge.cli import main
from edge.config import BoxConfig, BrokerConfig, SourceConfig
from edge.outbound.egress import Egress
from edge.outbound.ledger import Ledger
from edge.search.answer import BoxSearch
from edge.search.index import IndexRow
from edge.search.preview import encode_preview
from edge.wire import keys
from edge.wire.messages import utc_iso
from tests.conftest import wait_for
from tests.kits.browserkit import login
from tests.kits.hubkit import Hub, start_hub
from tests.kits.searchkit import install_hub_key


def test_keygen_makes_the_hub_key_once(tmp_path: Path) -> None:
    cfg = tmp_path / "hub.toml"
    cfg.write_text('database = "hub.sqlite"\nsigning_key = "keys/hub.ed25519"\n')
    first = CliRunner().invoke(main, ["hub", "keygen", "--config", str(cfg)])
    assert first.exit_code == 0, first.output
    path = tmp_path / "keys" / "hub.ed25519"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert keys.public_text(keys.load_private(path)) == first.output.strip()
    again = CliRunner().invoke(main, ["hub", "keygen", "--config", str(cfg)])
    assert again.exit_code != 0 and "refusing to replace" in again.output
    cfg.write_text('database = "hub.sqlite"\n')
    none = CliRunner().invoke(main, ["hub", "keygen", "--config", str(cfg)])
    assert none.exit_code != 0 and "sets no signing_key" in none.output


@pytest.fixture
def fleet(tmp_path: Path, broker: LocalBroker) -> Iterator[tuple[Hub, list[BoxSearch]]]:
    """A hub with a signing key and two boxes: cam-01 online (a red car, a person), cam-02 known
    as offline (never connected)."""
    key = keys.generate_private(tmp_path / "hub.ed25519")
    gen = start_hub(tmp_path, signing_key=tmp_path / "hub.ed25519",
                    broker=HubBroker(port=broker.port, client_id="hub-test"),
                    search={"timeout_s": 3.0})
    hub = next(gen)
    db = hub.db()
    hubdb.camera_seen(db, "test", "cam-01", state="online", state_at=time.time())
    hubdb.camera_seen(db, "test", "cam-02", state="offline", state_at=time.time())
    db.conn.close()
    cfg = BoxConfig(site="test", camera="cam-01", data_dir=tmp_path / "box",
                    source=SourceConfig(url="x.mp4"), broker=BrokerConfig(port=broker.port))
    install_hub_key(cfg.data_dir, key)
    egress = Egress("test", "cam-01", cfg.broker, Ledger(cfg.data_dir / "ledger.jsonl"))
    box = BoxSearch(cfg, egress, faces=None)
    now = time.time()
    box.index.add_many([
        IndexRow("car", now - 300, now - 290, (), "up", "red", 0.8,
                 encode_preview(np.full((90, 160, 3), (40, 40, 200), np.uint8))),
        IndexRow("person", now - 200, now - 190, (), "left"),
    ])
    box.start()
    egress.start()
    assert egress.connected.wait(10)
    time.sleep(0.3)
    yield hub, [box]
    egress.stop()
    box.stop()
    fo = hub.app.extensions.get("vigie_search")
    if fo is not None:
        fo.stop()
    next(gen, None)


def body(**kw: Any) -> dict[str, Any]:
    now = time.time()
    return {"case": "PV-7", "reason": "stolen scooter", "start": utc_iso(now - 3600),
            "end": utc_iso(now), **kw}


def test_only_investigators_search_and_questions_are_checked(fleet: Any) -> None:
    hub, _ = fleet
    sup = hub.login("supervisor")
    assert sup.post(f"{hub.url}/api/v1/searches", json=body(), timeout=10).status_code == 403
    inv = hub.login("investigator")
    for bad, why in [
        ({"case": ""}, "case"), ({"reason": "x"}, "reason"), ({"start": "yesterday"}, "ISO 8601"),
        ({"class": "person", "colour": "red"}, "les personnes n'ont pas d'attributs"),
        ({"clothing": "red"}, "champ(s) inconnu(s)"), ({"colour": "pink"}, "colour doit valoir"),
        ({"cameras": ["test/cam-99"]}, "caméra inconnue"), ({"limit": 0}, "limite"),
    ]:
        r = inv.post(f"{hub.url}/api/v1/searches", json=body(**bad), timeout=10)
        assert r.status_code == 400 and why in r.json()["message"], (bad, r.text)
    db = hub.db()
    assert db.execute("SELECT COUNT(*) FROM searches").fetchone()[0] == 0
    db.conn.close()


def test_search_with_an_offline_box_completes(fleet: Any) -> None:
    hub, _ = fleet
    inv = hub.login("investigator")
    r = inv.post(f"{hub.url}/api/v1/searches", json=body(**{"class": "car"}), timeout=10)
    assert r.status_code == 202, r.text
    url = hub.url + r.json()["url"]
    view = wait_for(lambda: (lambda v: v if v["complete"] else None)(inv.get(url, timeout=10).json()),
                    10, what="complete")
    assert view["progress"] == {"asked": 2, "answered": 1, "refused": 0, "offline": 1,
                                "pending": 0, "timed_out": 0}
    (res,) = view["results"]
    assert res["colour"] == "red" and res["camera"] == "cam-01"
    # need to know: another person of the same role does not see it
    db = hub.db()
    from central.users import add_user

    add_user(db, "other-investigator", "correct horse battery", "investigator")
    db.conn.close()
    other = hub.login("other-investigator")
    assert other.get(url, timeout=10).status_code == 404
    assert other.get(hub.url + res["preview_url"], timeout=10).status_code == 404
    # persons: no preview
    r = inv.post(f"{hub.url}/api/v1/searches", json=body(**{"class": "person"}), timeout=10)
    url = hub.url + r.json()["url"]
    view = wait_for(lambda: (lambda v: v if v["complete"] else None)(inv.get(url, timeout=10).json()),
                    10, what="complete")
    (res,) = view["results"]
    assert res["class"] == "person" and res["colour"] is None and res["preview_url"] is None


def test_a_silent_box_is_not_waited_for_forever(fleet: Any) -> None:
    """cam-02 is marked online but nothing answers for it: the search times out."""
    hub, _ = fleet
    db = hub.db()
    hubdb.camera_seen(db, "test", "cam-02", state="online", state_at=time.time())
    db.conn.close()
    inv = hub.login("investigator")
    t0 = time.monotonic()
    r = inv.post(f"{hub.url}/api/v1/searches", json=body(), timeout=10)
    url = hub.url + r.json()["url"]
    view = inv.get(url, timeout=10).json()
    assert not view["complete"]
    view = wait_for(lambda: (lambda v: v if v["complete"] else None)(inv.get(url, timeout=10).json()),
                    10, what="timed out")
    assert 2.5 < time.monotonic() - t0 < 8
    assert view["progress"]["answered"] == 1 and view["progress"]["timed_out"] == 1


def test_search_pages(fleet: Any) -> None:
    hub, _ = fleet
    inv = hub.login("investigator")
    page = inv.get(f"{hub.url}/investigate", timeout=10)
    assert page.status_code == 200 and 'name="case"' in page.text
    csrf = inv.headers["X-CSRF-Token"]
    form = {"csrf_token": csrf, "case": "PV-8", "reason": "", "start": "2026-01-01T00:00:00Z",
            "end": "2026-01-01T01:00:00Z"}
    bad = inv.post(f"{hub.url}/investigate", data=form, timeout=10)
    assert bad.status_code == 400 and "reason" in bad.text
    form.update(reason="burglary witness", start=utc_iso(time.time() - 3600),
                end=utc_iso(time.time()), colour="red", cameras="test/cam-01")
    r = inv.post(f"{hub.url}/investigate", data=form, allow_redirects=False, timeout=10)
    assert r.status_code == 303, r.text[:300]
    page_url = hub.url + r.headers["Location"]
    html = wait_for(lambda: (lambda t: t if 'data-complete="yes"' in t else None)(
        inv.get(page_url, timeout=10).text), 10, what="complete page")
    assert "1 / 1 caméra(s) ont répondu" in html and "Rouge" in html
    assert re.search(r'data-src="/api/v1/searches/[^"]+/preview"', html)
    po = hub.login("privacy-officer")
    listing = po.get(f"{hub.url}/privacy/searches?requester=investigator", timeout=10)
    assert listing.status_code == 200 and "PV-8" in listing.text and "burglary witness" in listing.text


def test_hub_without_key_or_broker_says_why(tmp_path: Path) -> None:
    gen = start_hub(tmp_path)
    hub = next(gen)
    db = hub.db()
    hubdb.camera_seen(db, "test", "cam-01", state="online", state_at=time.time())
    db.conn.close()
    inv = hub.login("investigator")
    r = inv.post(f"{hub.url}/api/v1/searches", json=body(), timeout=10)
    assert r.status_code == 503 and "vigie hub keygen" in r.json()["message"]
    next(gen, None)


def test_answers_from_unasked_cameras_are_rejected(fleet: Any, broker: LocalBroker) -> None:
    hub, _ = fleet
    inv = hub.login("investigator")
    r = inv.post(f"{hub.url}/api/v1/searches", json=body(), timeout=10)
    sid = r.json()["id"]
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from edge.wire.messages import encode, topic

    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="intruder")
    c.connect("127.0.0.1", broker.port)
    c.loop_start()
    forged = {"schema": "vigie.search.resp/1", "site": "test", "camera": "cam-77",
              "request_id": sid, "status": "results", "reason": None, "part": 0, "last": True,
              "results": [], "seq": 1}
    c.publish(topic("test", "cam-77", "search/resp"), encode(forged), qos=1).wait_for_publish(5)
    c.loop_stop()
    c.disconnect()
    db = hub.db()
    wait_for(lambda: db.execute("SELECT reason FROM quarantine WHERE topic LIKE '%cam-77%'").fetchone(),
             10, what="rejection")
    assert "did not ask" in db.execute("SELECT reason FROM quarantine").fetchone()[0]
    db.conn.close()
    requests.Session().close()


def test_investigator_searches_in_the_browser(browser: Browser, fleet: Any) -> None:
    """Real Chromium: the form, progress until complete, a preview shown on request, audited."""
    hub, _ = fleet
    page = browser.new_page()
    login(page, hub, "investigator")
    page.goto(f"{hub.url}/investigate")
    page.fill("input[name=case]", "PV-9")
    page.fill("input[name=reason]", "red car seen leaving the scene")
    page.fill("input[name=start]", utc_iso(time.time() - 3600))
    page.fill("input[name=end]", utc_iso(time.time()))
    page.select_option("select[name=class]", "car")
    page.select_option("select[name=colour]", "red")
    page.fill("input[name=cameras]", "test/cam-01")
    page.click("#investigate button[type=submit]")
    expect(page.locator("#progress")).to_contain_text("terminée", timeout=10_000)
    expect(page.locator("#progress")).to_contain_text("1 / 1 caméra(s) ont répondu")
    expect(page.locator("#results tbody tr")).to_have_count(1)
    page.click("#results button.show")
    img = page.locator("#results img")
    expect(img).to_be_visible()
    page.wait_for_function("document.querySelector('#results img').naturalWidth > 0")
    page.click("#results button.clip")
    expect(page.locator("#results .clipmsg")).to_contain_text("aucun enregistrement vidéo")
    page.close()
    db = hub.db()
    actions = [r[0] for r in db.execute("SELECT action FROM audit WHERE why LIKE 'case PV-9%' "
                                        "AND actor = 'investigator' ORDER BY id")]
    db.conn.close()
    assert actions == ["search", "search.preview", "search.clip_request"], actions


def test_search_results_are_purged_after_retention(tmp_path: Path) -> None:
    from central.forensic.searches import purge_results

    db = hubdb.connect(tmp_path / "hub.sqlite")
    now = time.time()
    with db.conn:
        for sid, age in (("old", 11), ("new", 1)):
            db.execute("INSERT INTO searches (id, requester, case_ref, reason, created_at, deadline,"
                       " expires_at, window_start, window_end, query, asked) "
                       "VALUES (?, 'inv', 'PV', 'why', ?, 0, 0, 'a', 'b', '{}', 1)",
                       [sid, now - age * 86400])
            db.execute("INSERT INTO search_results (search_id, site, camera, row, class, first_seen,"
                       " last_seen, zones, direction, preview) VALUES (?, 's', 'c', 1, 'car', 'a', "
                       "'b', '[]', 'up', x'ffd8')", [sid])
    assert purge_results(db, 10, now) == 1
    assert [r[0] for r in db.execute("SELECT search_id FROM search_results")] == ["new"]
    assert db.execute("SELECT COUNT(*) FROM searches").fetchone()[0] == 2  # accountability stays
