"""``vigie edge stores CONFIG``: what this box keeps on its disk, for the privacy officer — each
SQLite table under ``data_dir`` with its rows and oldest row, and every other file or folder
with its size (the hub's inventory lists these stores as kept on the boxes only)."""

from __future__ import annotations

import logging
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import click

log = logging.getLogger(__name__)

TIME_COLUMNS = ("first_seen", "created", "seen_at", "moved", "ts")
"""The column that dates a row, the first found (Unix seconds)."""


def _iso(ts: float | None) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if ts else "-"


def sqlite_rows(path: Path) -> list[tuple[str, int, str]]:
    """(file:table, rows, oldest row) of every table of one SQLite file, read-only."""
    out = []
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                             "AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        for t in tables:
            cols = {r[1] for r in conn.execute(f'PRAGMA table_info("{t}")')}
            col = next((c for c in TIME_COLUMNS if c in cols), None)
            n, oldest = conn.execute(f'SELECT COUNT(*), {f"MIN({col})" if col else "NULL"} '
                                     f'FROM "{t}"').fetchone()
            out.append((f"{path.name}:{t}", int(n), _iso(oldest)))
    finally:
        conn.close()
    return out


def _size(p: Path) -> tuple[int, int, float | None]:
    files = [p] if p.is_file() else [f for f in p.rglob("*") if f.is_file()]
    stats = [f.stat() for f in files]
    return len(stats), sum(s.st_size for s in stats), min((s.st_mtime for s in stats), default=None)


@click.command("stores")
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
def stores(config: Path) -> None:
    """List what this box keeps under its data_dir: rows and oldest row of every table, size
    and oldest file of every other store. Nothing here leaves the box by itself."""
    from edge.config import ConfigError, load

    try:
        cfg = load(config)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    root = cfg.data_dir
    if not root.is_dir():
        raise click.ClickException(f"{root} does not exist: this box has stored nothing yet")
    click.echo(f"{'store':34} {'items':>8} {'bytes':>12}  oldest")
    for p in sorted(root.iterdir()):
        if p.suffix == ".sqlite":
            for name, n, oldest in sqlite_rows(p):
                click.echo(f"{name:34} {n:>8} {'':>12}  {oldest}")
        elif not p.name.endswith(("-wal", "-shm")):
            n, size, first = _size(p)
            click.echo(f"{p.name + ('/' if p.is_dir() else ''):34} {n:>8} {size:>12}  {_iso(first)}")
