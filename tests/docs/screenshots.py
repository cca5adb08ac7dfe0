"""Screenshots of the supervisors' and operators' other pages, in French, for the operator guide.

Run ``python -m tests.docs.screenshots docs/figures``: a real hub on a free port with a few
alerts (one resolved as a false alarm, one as a true alert), a written procedure, then real
Chromium at 1280 px takes the procedures, event search, statistics and false-alarm filters pages.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from edge.wire.messages import utc_iso
from tests.kits.browserkit import chromium, login
from tests.kits.hubkit import insert_event, start_hub

PAGES = (
    ("supervisor", "/procedures", "operator-procedures.png"),
    ("operator", "/search?type=intrusion", "operator-search.png"),
    ("supervisor", "/stats", "operator-stats.png"),
    ("supervisor", "/suppressions", "operator-suppressions.png"),
)


def _seed(hub: object) -> None:
    """Alerts of the last hours, two of them resolved, and a procedure for intrusions."""
    now = time.time()
    ids = [insert_event(hub.database, camera=f"cam-0{i % 3 + 1}", zone="parvis",  # type: ignore[attr-defined]
                        severity=("critical", "warning", "info")[i % 3],
                        started_at=utc_iso(now - 600 * i)) for i in range(6)]
    s = hub.login("supervisor")  # type: ignore[attr-defined]
    url = hub.url  # type: ignore[attr-defined]
    s.put(f"{url}/api/v1/procedures", timeout=10, json={
        "type": "intrusion", "text": "Vérifier l'image, appeler la patrouille du secteur, "
                                     "noter l'heure d'arrivée sur place."}).raise_for_status()
    s.post(f"{url}/api/v1/alerts/{ids[0]}/resolve", timeout=10, json={
        "outcome": "false_alarm", "comment": "reflet sur la vitrine"}).raise_for_status()
    s.post(f"{url}/api/v1/alerts/{ids[1]}/resolve", timeout=10, json={
        "outcome": "true_alert", "comment": "patrouille sur place"}).raise_for_status()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder of the PNG files (docs/figures)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        hubs = start_hub(Path(tmp))
        hub = next(hubs)
        try:
            _seed(hub)
            with chromium() as browser:
                for user, path, name in PAGES:
                    page = browser.new_page(viewport={"width": 1280, "height": 800}, locale="fr-FR",
                                            timezone_id="Europe/Paris")
                    login(page, hub, user)
                    page.goto(f"{hub.url}{path}")
                    page.wait_for_load_state("networkidle")
                    page.screenshot(path=str(args.out / name), full_page=True)
                    page.close()
                    print(args.out / name)
        finally:
            next(hubs, None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
