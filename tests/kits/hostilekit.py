"""Helpers for the hostile-input tests of hub ingest: a hub config for a real `vigie hub ingest`,
a QoS 1 publisher, poison payloads written as raw JSON text, and counts read from SQLite."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge.wire.messages import encode, utc_iso, uuid7
from tests.kits.samples import sample_event

SITE, CAMERA = "marseille", "cam-042"
EVENT_TOPIC = f"vigie/v1/{SITE}/{CAMERA}/event"


def hub_config(tmp_path: Path, port: int, database: Path | None = None) -> Path:
    """A hub TOML for `vigie hub ingest` against the broker on ``port``."""
    cfg = tmp_path / "hub.toml"
    db = database or tmp_path / "hub.sqlite"
    cfg.write_text(f'database = "{db}"\n[broker]\nport = {port}\nclient_id = "hub-ingest-test"\n')
    return cfg


def publisher(port: int, client_id: str = "hostile-box") -> mqtt.Client:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
    c.max_inflight_messages_set(1000)
    c.connect("127.0.0.1", port)
    c.loop_start()
    return c


def publish_all(client: mqtt.Client, items: list[tuple[str, bytes]]) -> None:
    infos = [client.publish(t, p, qos=1) for t, p in items]
    for info in infos:
        info.wait_for_publish(30)


def valid_event(**kw: Any) -> bytes:
    return encode(sample_event(id=uuid7(), started_at=utc_iso(time.time() - 5), **kw))


def with_raw(msg: Any, path: str, raw: str) -> bytes:
    """``msg`` as JSON with the value at ``path`` ("seq", "objects.0.score", "measure.count")
    replaced by raw JSON text (``NaN``, ``1e400``, 2^63, a deep array...)."""
    msg = json.loads(json.dumps(msg))
    *parents, leaf = path.split(".")
    node = msg
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    mark = "@@raw-value@@"
    if isinstance(node, list):
        node[int(leaf)] = mark
    else:
        node[leaf] = mark
    return json.dumps(msg).replace(json.dumps(mark), raw).encode()


def raw_event(path: str, raw: str) -> bytes:
    """A valid, fresh event with the value at ``path`` replaced by raw JSON text."""
    return with_raw(sample_event(id=uuid7(), started_at=utc_iso(time.time() - 5)), path, raw)


def nested_arrays(size: int = 6 * 1024) -> bytes:
    """``size`` bytes of nested JSON arrays: ``[[[[...]]]]``."""
    half = size // 2
    return b"[" * half + b"]" * half


def count(database: Path, sql: str, params: tuple[Any, ...] = ()) -> int:
    """One number from the hub database, read with a connection of its own."""
    conn = sqlite3.connect(str(database), timeout=30)
    try:
        return int(conn.execute(sql, params).fetchone()[0])
    except sqlite3.OperationalError:
        return -1
    finally:
        conn.close()
