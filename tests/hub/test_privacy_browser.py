"""The privacy officer's pages in real Chromium (Playwright) against a real hub over HTTP."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, expect

from central import audit
from central.privacy.egress_verify import Finding, raise_alerts
from tests.kits.browserkit import login
from tests.kits.hubkit import Hub, hub, insert_event  # noqa: F401


def test_privacy_officer_pages(browser: Browser, hub: Hub, output_dir: Path) -> None:  # noqa: F811
    ev = insert_event(hub.database, camera="cam-01")
    db = hub.db()
    audit.record(db, "ana", "clip.view", ev, "incident 7")
    audit.record(db, "bob", "search", "events", "camera=cam-02")
    raise_alerts(db, [Finding("test", "cam-01", 1842, "missing", "ledger entry seq 1842 never received")])
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    login(page, hub, "privacy-officer")

    page.click("header nav >> text=Sorties de données")
    row = page.locator("tr[data-camera='test/cam-01']")
    expect(row).to_have_attribute("data-status", "alert")
    expect(row).to_contain_text("alerte")
    expect(page.locator("#privacy-alerts")).to_contain_text("1842")
    expect(page.locator("#privacy-alerts")).to_contain_text("missing")
    page.screenshot(path=str(output_dir / "01-egress.png"))

    page.click("header nav >> text=Journal d'accès")
    page.fill("#audit-filter input[name=camera]", "cam-01")
    page.click("#audit-filter button")
    expect(page.locator("#audit tbody tr")).to_have_count(1)
    expect(page.locator("#audit")).to_contain_text("incident 7")
    page.screenshot(path=str(output_dir / "02-audit-filtered.png"))

    page.click("header nav >> text=Inventaire des données")
    expect(page.locator("#retention")).to_contain_text("Durée de conservation en vigueur : 10 jours")
    expect(page.locator("#inventory tr[data-name='events']")).to_contain_text("type d'événement")
    expect(page.locator("#inventory tr[data-name='search_results.preview']")).to_be_visible()
    expect(page.locator("#inventory tr[data-name='index.sqlite:tracks']")).to_contain_text("sur le boîtier")
    page.fill("#retention input[name=days]", "12")
    page.click("#retention button")
    expect(page.locator(".ok")).to_contain_text("Durée de conservation fixée à 12 jours.")
    expect(page.locator("#retention")).to_contain_text("Durée de conservation en vigueur : 12 jours")
    page.screenshot(path=str(output_dir / "03-inventory.png"), full_page=True)

    page.click("header nav >> text=Registre des traitements")
    for section in ("Finalités", "Base légale", "Catégories de données", "Destinataires",
                    "Durées de conservation", "Transferts", "Mesures de sécurité"):
        expect(page.locator("#register h2", has_text=section)).to_be_visible()
    expect(page.locator("#recipients tr[data-role='investigator']")).to_contain_text("Enquêteur")
    expect(page.locator("#processings tr[data-name='search_results']")).to_contain_text("vignette")
    expect(page.locator("#processings tr.alert")).to_have_count(0)  # everything described
    page.screenshot(path=str(output_dir / "04-register.png"), full_page=True)

    page.click("header nav >> text=Droit d'accès")
    page.fill("#access-search input[name=camera]", "cam-01")
    page.click("#access-search button")
    expect(page.locator("#access-clips")).to_contain_text("Aucun extrait pour cette caméra et cette période.")
    actions = [r[0] for r in hub.db().execute("SELECT action FROM audit ORDER BY id")]
    assert "retention.set" in actions and "subject_access.search" in actions
