"""The operators' console in real Chromium: French by default with Paris time and English per
person, layouts from an 800 px side screen to a 4K wall, the shift page's figures, and the
site plan (upload, placing a camera by clicking, states, an alert's camera highlighted)."""

from __future__ import annotations

import calendar
import json
import struct
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from central import db as hubdb
from central.config import HubConfig
from central.siteplan import PlanError, check_plan
from central.web.shift import shift_start
from edge.wire.messages import utc_iso
from tests.kits.browserkit import login
from tests.kits.hubkit import Hub, insert_event, start_hub

PLAN = "street_cars.png"
"""A real image from ../shared/media/images standing in for a site plan (513 × 513)."""


@pytest.fixture
def console(tmp_path: Path) -> Iterator[Hub]:
    """A hub with three cameras (online, offline, silent) and a few alerts."""
    gen = start_hub(tmp_path)
    hub = next(gen)
    db = hub.db()
    health = {"schema": "vigie.health/1", "site": "test", "camera": "cam-01",
              "ts": utc_iso(time.time()), "fps_in": 10.0, "fps_processed": 5.0,
              "inference_ms_p50": 60.0, "inference_ms_p95": 90.0, "outbox_depth": 0,
              "uptime_s": 100.0, "seq": 1, "disk_free_bytes": 3 * 2**30,
              "detector": {"model": "yolox-nano", "backend": "onnxruntime"}}
    hubdb.camera_seen(db, "test", "cam-01", state="online", health=json.dumps(health))
    hubdb.camera_seen(db, "test", "cam-02", state="offline")
    hubdb.camera_seen(db, "test", "cam-03", state="online")
    db.execute("UPDATE cameras SET last_seen = ? WHERE camera = 'cam-03'", [time.time() - 3600])
    db.conn.close()
    yield hub
    next(gen, None)


def _no_overflow(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def _page(browser: Browser, hub: Hub, user: str, width: int = 1280, height: int = 900) -> Page:
    ctx = browser.new_context(viewport={"width": width, "height": height}, locale="fr-FR")
    page = ctx.new_page()
    login(page, hub, user)
    return page


def test_pages_are_french_with_paris_time_and_english_per_person(browser: Browser,
                                                                 console: Hub) -> None:
    insert_event(console.database, camera="cam-01", started_at="2026-12-01T10:46:14.000Z",
                 type_="person_down", severity="critical")
    page = _page(browser, console, "supervisor")
    page.goto(f"{console.url}/search?go=1")
    row = page.locator("#results tbody tr").first
    expect(row).to_contain_text("01/12/2026 11:46:14")  # 10:46:14Z is 11:46:14 in Paris
    expect(row).to_contain_text("Personne au sol")
    expect(row).to_contain_text("Critique")
    expect(page.locator("header nav")).to_contain_text("Vacation")
    assert page.locator("html").get_attribute("lang") == "fr"
    page.select_option("header select[name=language]", "en")
    page.wait_for_function("document.documentElement.lang === 'en'")
    page.goto(f"{console.url}/search?go=1")
    row = page.locator("#results tbody tr").first
    expect(row).to_contain_text("2026-12-01 11:46:14")
    expect(row).to_contain_text("Person on the ground")
    expect(page.locator("header")).to_contain_text("Log out")
    other = _page(browser, console, "operator")
    other.goto(f"{console.url}/shift")
    expect(other.locator("header")).to_contain_text("Se déconnecter")  # per person
    # the administrator sets a person's language on the users page
    admin = _page(browser, console, "admin")
    admin.goto(f"{console.url}/admin/users")
    admin.select_option("tr[data-user=operator] select[name=language]", "en")
    expect(admin.locator("p.ok")).to_contain_text("Langue de operator modifiée")
    other.goto(f"{console.url}/shift")
    expect(other.locator("header")).to_contain_text("Log out")
    actions = [r[0] for r in console.db().execute(
        "SELECT action FROM audit WHERE action = 'user.language' AND subject = 'operator'")]
    assert actions == ["user.language"]


MAIN_PAGES = (("supervisor", "/"), ("supervisor", "/shift"), ("supervisor", "/plan"),
              ("supervisor", "/cameras"), ("supervisor", "/search?go=1"),
              ("supervisor", "/stats"), ("admin", "/admin/users"))


def test_main_pages_fit_800_px_and_scale_up_on_a_4k_wall(browser: Browser, console: Hub,
                                                         output_dir: Path) -> None:
    for i in range(3):
        insert_event(console.database, camera=f"cam-0{i + 1}", zone="a-long-zone-name-for-width")
    pages: dict[str, Page] = {}
    for width, height in ((800, 900), (3840, 2160)):
        for user, path in MAIN_PAGES:
            key = f"{user}@{width}"
            if key not in pages:
                pages[key] = _page(browser, console, user, width, height)
            page = pages[key]
            page.goto(console.url + path)
            page.wait_for_load_state("load")
            assert _no_overflow(page), f"{path} overflows the page at {width} px"
            if width == 800 and path == "/cameras":
                table = page.locator("#cameras")
                assert table.evaluate("t => t.scrollWidth > t.clientWidth"), \
                    "the wide cameras table scrolls inside its own box"
                page.screenshot(path=str(output_dir / "cameras-800.png"))
            if width == 3840:
                size = float(page.evaluate(
                    "parseFloat(getComputedStyle(document.documentElement).fontSize)"))
                assert size >= 24, f"{path}: fonts scale up on a 4K wall ({size} px)"
    nav = pages["admin@800"]  # the longest navigation
    nav.goto(console.url + "/cameras")
    links = nav.locator("header nav a").evaluate_all(
        "links => links.map(a => [a.getBoundingClientRect().top, a.getBoundingClientRect().right])")
    assert len(links) >= 8 and all(right <= 800 for _top, right in links), links
    assert len({top for top, _right in links}) > 1, "the navigation wraps onto a second line"


def test_shift_start_follows_the_site_clock() -> None:
    starts = ("06:00", "14:00", "22:00")
    def at(iso: str) -> float:
        return float(calendar.timegm(time.strptime(iso, "%Y-%m-%dT%H:%M:%SZ")))

    # 04:00Z on 1 December is 05:00 in Paris: the night shift began at 22:00 Paris, 21:00Z
    assert utc_iso(shift_start(at("2026-12-01T04:00:00Z"), starts, "Europe/Paris")) \
        == "2026-11-30T21:00:00.000Z"
    # 04:30Z on 1 July is 06:30 in Paris (summer time): the morning shift began at 04:00Z
    assert utc_iso(shift_start(at("2026-07-01T04:30:00Z"), starts, "Europe/Paris")) \
        == "2026-07-01T04:00:00.000Z"
    assert utc_iso(shift_start(at("2026-12-01T13:00:00Z"), starts, "Europe/Paris")) \
        == "2026-12-01T13:00:00.000Z"
    for bad in (["25:00"], ["06:00", "06:00"], []):
        with pytest.raises(ValueError):
            HubConfig.model_validate({"shifts": {"starts": bad}})


def test_shift_page_figures_match_the_events(browser: Browser, console: Hub,
                                             output_dir: Path) -> None:
    op = console.login("operator")
    crit = [insert_event(console.database, camera="cam-01", severity="critical") for _ in range(2)]
    warn = [insert_event(console.database, camera="cam-02", severity="warning",
                         type_="abandoned_object") for _ in range(3)]
    old = insert_event(console.database, camera="cam-02",
                       started_at=utc_iso(time.time() - 2 * 86400))  # before this shift
    assert op.post(f"{console.url}/api/v1/alerts/{crit[0]}/ack", json={}, timeout=10).ok
    for alert, outcome in ((warn[0], "false_alarm"), (warn[1], "false_alarm"),
                           (crit[1], "true_alert")):
        assert op.post(f"{console.url}/api/v1/alerts/{alert}/resolve",
                       json={"outcome": outcome, "comment": "vu"}, timeout=10).ok
    api = op.get(f"{console.url}/api/v1/shift", timeout=10).json()
    assert api["open"]["total"] == 3 and api["open"]["by_severity"]["critical"] == 1
    assert api["open"]["oldest_started_at"] == console.db().execute(
        "SELECT started_at FROM events WHERE id = ?", [old]).fetchone()[0]
    assert api["period"]["raised"] == 5, "the alert of two days ago is not of this shift"
    assert api["period"]["acknowledged"] == 4  # resolving acknowledges too
    assert api["period"]["resolved_by_outcome"] == {"false_alarm": 2, "true_alert": 1}

    page = _page(browser, console, "supervisor")
    page.goto(f"{console.url}/shift")
    expect(page.locator("#open-total")).to_have_text("3 alertes ouvertes")
    expect(page.locator("#open-severity [data-severity=critical]")).to_have_text("Critique : 1")
    expect(page.locator("#open-types tr[data-type=abandoned_object]")).to_contain_text(
        "Objet abandonné")
    expect(page.locator("#oldest")).to_contain_text("il y a 2 jours")
    expect(page.locator("#raised")).to_have_text("5")
    expect(page.locator("#acknowledged")).to_have_text("4")
    expect(page.locator("#resolved")).to_have_text("3")
    expect(page.locator("#outcomes tr[data-outcome=false_alarm]")).to_contain_text(
        "Fausse alerte")
    cam2 = page.locator("#per-camera tr[data-camera='test/cam-02']")
    expect(cam2.locator(".raised")).to_have_text("3")
    expect(cam2.locator(".resolved")).to_have_text("2")
    expect(cam2.locator(".open")).to_have_text("2")
    page.screenshot(path=str(output_dir / "shift.png"), full_page=True)
    # since a given time: three days back takes in the old alert too
    page.fill("input[name=since]", time.strftime("%Y-%m-%dT%H:%M",
                                                 time.localtime(time.time() - 3 * 86400)))
    page.click("#since-form button[type=submit]")
    expect(page.locator("#raised")).to_have_text("6")
    assert op.get(f"{console.url}/api/v1/shift?since=2020-01-01T00:00", timeout=10).status_code \
        == 400
    assert console.login("privacy-officer").get(f"{console.url}/shift", timeout=10) \
        .status_code == 403


def _png_with_text(path: Path) -> bytes:
    """The PNG at ``path`` with a tEXt metadata chunk after its header."""
    data = path.read_bytes()
    body = b"Comment\x00secret metadata: taken at 43.2965N 5.3698E"
    chunk = struct.pack(">I", len(body)) + b"tEXt" + body + struct.pack(
        ">I", zlib.crc32(b"tEXt" + body))
    return data[:33] + chunk + data[33:]


def test_plan_image_is_checked_and_stripped_of_metadata(media: Path) -> None:
    tagged = _png_with_text(media / "images" / PLAN)
    plan = check_plan(tagged, 8 << 20, 4096)
    assert b"secret metadata" in tagged and b"secret metadata" not in plan.image
    assert (plan.mime, plan.width, plan.height) == ("image/png", 513, 513)
    jpeg = check_plan((media / "images" / "face.jpg").read_bytes(), 8 << 20, 4096)
    assert jpeg.mime == "image/jpeg" and jpeg.image[:3] == b"\xff\xd8\xff"
    for data, why in ((b"GIF89a" + b"\0" * 100, "PNG ou JPEG"),
                      (tagged, "entre 16 et 256"),
                      (tagged[:40], "illisible"),
                      (b"\x89PNG\r\n\x1a\n" + b"\0\0\0\x0d" + b"IHDR" + struct.pack(">II", 60000, 60000),
                       "60000 × 60000")):
        with pytest.raises(PlanError) as err:
            check_plan(data, 8 << 20, 256 if why.startswith("entre") else 4096)
        from central.i18n import translator

        fr = translator("fr")
        assert why in fr(err.value.template) % err.value.params, (why, str(err.value))


def test_plan_page_places_cameras_and_centres_on_an_alert(browser: Browser, console: Hub,
                                                          media: Path, output_dir: Path,
                                                          tmp_path: Path) -> None:
    page = _page(browser, console, "supervisor")
    page.goto(f"{console.url}/plan")
    expect(page.locator("#no-plan")).to_contain_text("Aucun plan du site")
    # a file that is not an image is refused, in French, and audited
    fake = tmp_path / "plan.png"
    fake.write_text("not an image at all")
    page.set_input_files("input[name=plan]", str(fake))
    page.click("#upload button[type=submit]")
    expect(page.locator("#plan-error")).to_have_text("Le plan doit être une image PNG ou JPEG.")
    # the real image
    page.set_input_files("input[name=plan]", str(media / "images" / PLAN))
    page.click("#upload button[type=submit]")
    expect(page.locator("p.ok")).to_contain_text("Plan enregistré (513 × 513 pixels")
    page.wait_for_function("document.getElementById('plan-image').naturalWidth === 513")
    # place cam-01 by clicking at 30 % / 40 % of the plan
    page.select_option("#place-camera", "test/cam-01")
    page.fill("#place-label", "Parvis de la gare")
    page.click("#place-start")
    img = page.locator("#plan-image").bounding_box()
    assert img is not None
    page.click("#plan-image", position={"x": 0.3 * img["width"], "y": 0.4 * img["height"]})
    expect(page.locator("#place-status")).to_have_text("Enregistré.")
    page.select_option("#place-camera", "test/cam-02")
    page.click("#place-start")
    page.click("#plan-image", position={"x": 0.7 * img["width"], "y": 0.6 * img["height"]})
    expect(page.locator(".mark[data-camera='test/cam-02']")).to_be_visible()
    page.reload()
    mark = page.locator(".mark[data-camera='test/cam-01']")
    expect(mark).to_have_class("mark online")
    expect(mark).to_contain_text("Parvis de la gare")
    expect(page.locator(".mark[data-camera='test/cam-02']")).to_have_class("mark offline")
    expect(page.locator("#plan-cameras tr[data-camera='test/cam-03'] .state")).to_have_text(
        "Muette")
    x, y = console.db().execute("SELECT plan_x, plan_y FROM cameras WHERE camera = 'cam-01'") \
        .fetchone()
    assert x == pytest.approx(0.3, abs=0.01) and y == pytest.approx(0.4, abs=0.01)
    # a new alert shows on the plan without a reload (polling)
    alert = insert_event(console.database, camera="cam-01", severity="critical")
    expect(mark.locator(".badge.sev-critical")).to_have_text("1", timeout=10_000)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(output_dir / "plan.png"), full_page=True)
    # the alert page's link: the alert's camera highlighted
    op = _page(browser, console, "operator", 800, 700)
    op.goto(f"{console.url}/plan?alert={alert}")
    focus = op.locator(".mark.focus")
    expect(focus).to_have_count(1)
    assert focus.get_attribute("data-camera") == "test/cam-01"
    expect(op.locator("#focus-note")).to_contain_text("test/cam-01")
    op.wait_for_function("document.body.dataset.planRefreshed")
    assert focus.evaluate("m => { const r = m.getBoundingClientRect(); "
                          "return r.top >= 0 && r.bottom <= innerHeight; }"), "scrolled into view"
    assert _no_overflow(op)
    assert op.locator("#upload").count() == 0, "operators see the plan, supervisors change it"
    assert op.goto(f"{console.url}/plan?alert=no-such-alert").status == 404  # type: ignore[union-attr]
    db = console.db()
    actions = [r[0] for r in db.execute("SELECT action FROM audit WHERE action LIKE 'plan.%' "
                                        "OR action = 'camera.place' ORDER BY id")]
    assert actions == ["plan.refused", "plan.upload", "camera.place", "camera.place"]
    s = console.login("operator")
    assert s.post(f"{console.url}/api/v1/cameras/test/cam-01/plan", json={"x": 0.1, "y": 0.1},
                  timeout=10).status_code == 403
    sup = console.login("supervisor")
    for bad in ({"x": 2, "y": 0.5}, {"x": 0.5}, {"x": float("nan"), "y": 1}, {"colour": 1}):
        r = sup.post(f"{console.url}/api/v1/cameras/test/cam-01/plan",
                     data=json.dumps(bad, allow_nan=True),
                     headers={"Content-Type": "application/json"}, timeout=10)
        assert r.status_code == 400, (bad, r.text)
    assert sup.post(f"{console.url}/api/v1/cameras/test/cam-99/plan", json={"x": 0, "y": 0},
                    timeout=10).status_code == 400
