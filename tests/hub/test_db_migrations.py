"""The hub database's named migrations: a new database records each once, in order; opening it
again applies nothing; a database numbered by ``PRAGMA user_version`` (the scheme before
migrations had names) keeps what it has and gets the rest; the log names each migration."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest
import sqlite_utils

from central import db as hubdb
from central.db import migrations

NAMES = [name for name, _ in migrations.MIGRATIONS]


def recorded(path: Path) -> list[tuple[str, float | None]]:
    with sqlite3.connect(path) as con:
        return [(r[0], r[1]) for r in
                con.execute("SELECT name, applied_at FROM _migrations ORDER BY rowid")]


def test_names_are_unique() -> None:
    assert len(set(NAMES)) == len(NAMES) == len(migrations.MIGRATIONS)
    assert all(name and name == name.strip() for name in NAMES)


def test_new_database_records_every_migration_once(tmp_path: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "hub.sqlite"
    with caplog.at_level(logging.INFO, logger="central.db.migrations"):
        hubdb.connect(path).conn.close()
    rows = recorded(path)
    assert [name for name, _ in rows] == NAMES
    assert all(applied_at is not None and applied_at > 0 for _, applied_at in rows)
    applied = [r.getMessage() for r in caplog.records if r.name == "central.db.migrations"]
    assert applied == [f"database migration {name} applied" for name in NAMES]


def test_connecting_again_applies_nothing(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "hub.sqlite"
    hubdb.connect(path).conn.close()
    before = recorded(path)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="central.db.migrations"):
        db = hubdb.connect(path)
        assert hubdb.migrate(db) == []
        db.conn.close()
    assert recorded(path) == before
    assert [r for r in caplog.records if r.name == "central.db.migrations"] == []


def make_numbered(path: Path, k: int) -> None:
    """A database as the hub made it before migrations had names: the first ``k`` migrations
    applied, in order, each step counted in ``PRAGMA user_version``; one event stored."""
    db = sqlite_utils.Database(sqlite3.connect(path, isolation_level=None))
    with db.conn:
        db.execute("BEGIN IMMEDIATE")
        for n, (_, step) in enumerate(migrations.MIGRATIONS[:k], start=1):
            step(db)
            db.execute(f"PRAGMA user_version = {n}")
        db.execute("INSERT INTO events (id, site, camera, type, state, payload, status) "
                   "VALUES ('ev-1', 'nice', 'cam1', 'intrusion', 'start', '{}', 'new')")
    db.conn.close()


@pytest.mark.parametrize("k", [1, 2, 5, 6, 7, len(NAMES) - 1, len(NAMES)])
def test_numbered_database_upgrades_by_name(tmp_path: Path, k: int,
                                            caplog: pytest.LogCaptureFixture) -> None:
    """The first ``user_version`` migrations are recorded, not run again (each would fail:
    its tables exist); the rest are applied, in order, and the stored data stays."""
    path = tmp_path / "old.sqlite"
    make_numbered(path, k)
    with caplog.at_level(logging.INFO, logger="central.db.migrations"):
        db = hubdb.connect(path)
    rows = recorded(path)
    assert [name for name, _ in rows] == NAMES
    assert [at for _, at in rows[:k]] == [None] * k  # recorded from user_version, not run
    assert all(at is not None for _, at in rows[k:])
    messages = [r.getMessage() for r in caplog.records if r.name == "central.db.migrations"]
    assert [m for m in messages if m.endswith(" applied")] == [
        f"database migration {name} applied" for name in NAMES[k:]]
    assert sum(f"migration {name} already applied (user_version {k})" in m
               for name in NAMES[:k] for m in messages) == k
    assert db.execute("SELECT id FROM events").fetchall() == [("ev-1",)]
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"quarantine", "searches", "search_parts", "devices", "users", "stats"} <= tables
    assert db.execute("SELECT COUNT(*) FROM rejected").fetchone()[0] == 0  # the view
    assert hubdb.migrate(db) == []
    db.conn.close()


def test_unknown_recorded_migration_is_reported(tmp_path: Path,
                                                caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "hub.sqlite"
    hubdb.connect(path).conn.close()
    with sqlite3.connect(path) as con:
        con.execute("INSERT INTO _migrations (name, applied_at) VALUES ('from_a_newer_hub', 1.0)")
    with caplog.at_level(logging.WARNING, logger="central.db.migrations"):
        hubdb.connect(path).conn.close()
    assert any("from_a_newer_hub" in r.getMessage() for r in caplog.records)
