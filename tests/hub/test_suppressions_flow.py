"""False alarm -> suppression, end to end on real parts: the hub over HTTP, the hub role's
Mosquitto (its deployed ACL, passwords and TLS), and the box's own egress and suppression book
connecting with its production credentials after the set was published (it was offline)."""

from __future__ import annotations

import json
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from central import db as hubdb
from central.config import HubBroker
from central.suppressions import expire_due
from edge.config import BrokerConfig
from edge.outbound.egress import Egress
from edge.outbound.ledger import Ledger
from edge.records import Event, Track
from edge.suppressions import SuppressionBook
from edge.wire.keys import HUB_PUBLIC_KEY, generate_private, keys_dir
from edge.wire.messages import encode, topic, utc_iso
from tests.conftest import wait_for
from tests.kits.brokerkit import RoleBroker, box_client, hub_client
from tests.kits.hubkit import Hub, event_message, start_hub
from tests.kits.searchkit import install_hub_key

SITE, CAMERA = "marseille", "cam-042"
BBOX = [0.4, 0.3, 0.2, 0.5]
"""The false alarm's object: its foot point is (0.5, 0.8)."""


@pytest.fixture
def setup(role_broker: RoleBroker, tmp_path: Path) -> Iterator[tuple[Hub, Ed25519PrivateKey]]:
    key_path = tmp_path / "hub.ed25519"
    key = generate_private(key_path)
    broker = HubBroker(host="127.0.0.1", port=role_broker.local_port,
                       username=role_broker.fleet.hub_user, password=role_broker.fleet.hub_password)
    yield from ((hub, key) for hub in start_hub(tmp_path, broker=broker, signing_key=key_path))


def store_event(hub: Hub, type_: str = "intrusion", bbox: list[float] | None = None) -> str:
    msg = event_message(type_=type_, zone="room")
    msg.update(site=SITE, camera=CAMERA)
    msg["objects"][0]["bbox"] = bbox or BBOX
    db = hubdb.connect(hub.database)
    hubdb.upsert_event(db, msg, json.dumps(msg))
    db.conn.close()
    return str(msg["id"])


def resolve(hub: Hub, session: Any, event_id: str, outcome: str = "false_alarm") -> None:
    r = session.post(f"{hub.url}/api/v1/alerts/{event_id}/resolve", timeout=30,
                     json={"outcome": outcome, "comment": "reflet sur la vitre"})
    assert r.status_code == 200, r.text[:300]


def audit(hub: Hub, action: str) -> list[str]:
    db = hub.db()
    try:
        return [r[0] for r in db.execute("SELECT subject FROM audit WHERE action = ?", [action])]
    finally:
        db.conn.close()


def candidate(foot: tuple[float, float], type_: str = "intrusion") -> Event:
    x, y = foot[0] * 1000, foot[1] * 1000
    obj = Track(1, "person", 0.6, (x - 20, y - 100, x + 20, y), 0.0, 1.0, 5, 0)
    return Event("e", type_, "start", "warning", time.time(), None, "room", (obj,), {}, 1000, 1000)


def box(role_broker: RoleBroker, data: Path, hub_key: Ed25519PrivateKey) -> tuple[Egress, SuppressionBook]:
    install_hub_key(data, hub_key)
    cfg = BrokerConfig(**tomllib.loads(role_broker.box_broker_toml(SITE, CAMERA)))
    egress = Egress(SITE, CAMERA, cfg, Ledger(data / "egress-ledger.jsonl"))
    book = SuppressionBook(SITE, CAMERA, keys_dir(data) / HUB_PUBLIC_KEY, data / "s.sqlite")
    egress.subscribe("suppress", book.on_message)
    egress.start()
    return egress, book


def test_false_alarm_becomes_a_signed_suppression_the_box_applies(
        setup: tuple[Hub, Ed25519PrivateKey], role_broker: RoleBroker, tmp_path: Path) -> None:
    hub, key = setup
    operator, supervisor = hub.login("operator"), hub.login("supervisor")
    first = store_event(hub)
    resolve(hub, operator, first)
    (sid,) = audit(hub, "suppression.created")
    db = hub.db()
    row = db.execute("SELECT rule, zone, x, y, w, h, state, source_event FROM suppressions").fetchone()
    published = db.execute("SELECT published_at FROM suppression_sets").fetchone()[0]
    db.conn.close()
    assert row[:2] == ("intrusion", "room") and row[6:] == ("active", first)
    assert row[2:6] == pytest.approx((0.35, 0.25, 0.3, 0.6))  # the box grown by 0.05
    assert published is not None  # the broker took the retained set

    egress, book = box(role_broker, tmp_path / "box", key)  # connects after: offline till now
    try:
        wait_for(lambda: book.version > 0, 20, what="the retained set on the box")
        assert book.match(candidate((0.5, 0.8)), time.time()) is not None
        assert book.match(candidate((0.1, 0.9)), time.time()) is None  # elsewhere
        assert book.match(candidate((0.5, 0.8), "weapon"), time.time()) is None  # other rule

        page = supervisor.get(f"{hub.url}/suppressions", timeout=30)
        assert page.status_code == 200 and "Filtres de fausses alarmes" in page.text
        assert f'data-id="{sid}" data-state="active"' in page.text
        assert operator.get(f"{hub.url}/suppressions", timeout=30).status_code == 403

        v1 = book.version
        r = supervisor.post(f"{hub.url}/suppressions", timeout=30, data={
            "id": sid, "action": "revoke", "reason": "vitre nettoyée"})
        assert r.status_code == 200, r.text[:300]
        assert f'data-id="{sid}" data-state="revoked"' in r.text
        wait_for(lambda: book.version > v1, 20, what="the set without the revoked suppression")
        assert book.match(candidate((0.5, 0.8)), time.time()) is None
        assert audit(hub, "suppression.revoked") == [sid]

        second = store_event(hub, bbox=[0.0, 0.0, 0.1, 0.1])
        resolve(hub, operator, second)
        resolve(hub, operator, store_event(hub, "crowd_density"), outcome="true_alert")
        (_, sid2) = audit(hub, "suppression.created")  # a true alert makes none
        wait_for(lambda: book.match(candidate((0.05, 0.1)), time.time()), 20,
                 what="the second suppression on the box")
        v2 = book.version
        r = supervisor.post(f"{hub.url}/suppressions", timeout=30, data={
            "id": sid2, "action": "shorten", "hours": "0", "reason": "essai terminé"})
        assert r.status_code == 200, r.text[:300]
        wait_for(lambda: book.version > v2, 20, what="the set after shortening")
        assert book.match(candidate((0.05, 0.1)), time.time()) is None
        db = hub.db()
        expire_due(db)
        db.conn.close()
        assert audit(hub, "suppression.expired") == [sid2]
        assert audit(hub, "suppression.shortened") == [sid2]
    finally:
        egress.stop()
        book.close()


def test_the_broker_and_the_box_refuse_forged_sets(
        role_broker: RoleBroker, tmp_path: Path) -> None:
    hub_key = Ed25519PrivateKey.generate()
    egress, book = box(role_broker, tmp_path / "box", hub_key)
    mallory = box_client(role_broker, SITE, CAMERA)
    hub = hub_client(role_broker)
    try:
        wait_for(egress.connected.is_set, 20, what="the box on the broker")
        assert mallory.connect() == 0
        now = time.time()
        forged = {"schema": "vigie.suppress/1", "version": int(now * 1000),
                  "issued_at": utc_iso(now), "expires_at": utc_iso(now + 3600),
                  "cameras": [{"site": SITE, "camera": CAMERA}], "suppressions": []}
        from central.forensic.fanout import sign_for

        payload = encode(sign_for(Ed25519PrivateKey.generate(), forged, SITE, CAMERA))
        # a box may not write its own suppressions (the deployed ACL): refused by the broker
        assert mallory.publish(topic(SITE, CAMERA, "suppress"), payload) == 0x87
        assert hub.connect() == 0  # the hub's account may; the box checks the signature
        assert hub.publish(topic(SITE, CAMERA, "suppress"), payload, retain=True) in (0, 0x10)
        wait_for(lambda: book.refused >= 1, 20, what="the box refusing the forged set")
        assert hub.publish(topic(SITE, CAMERA, "suppress"), b'{"version": ' + b"9" * 5000 + b"}",
                           retain=True) == 0
        wait_for(lambda: book.refused >= 2, 20, what="the box refusing the junk")
        assert book.version == 0 and book.applied == 0
    finally:
        mallory.close()
        hub.close()
        egress.stop()
        book.close()
