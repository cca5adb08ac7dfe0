"""Writing the edited layout back into the technician's TOML, comments and layout kept.

The editor changes five parts of a box config: ``[[zones]]``, ``[[lines]]``,
``[[privacy_masks]]``, ``[[rules]]`` and ``[calibration]``. :func:`render` applies them to the
file's text with tomlkit, table by table and key by key, so every comment, blank line and
untouched key stays where the technician put it. :func:`save` keeps the file as it was in
``box.toml.prev`` (one previous version, replaced at each save) and writes the new text
atomically (a temporary file in the same folder, fsynced, then renamed over).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.items import AoT, Comment, Table, Whitespace

log = logging.getLogger(__name__)

TABLE_LISTS = ("privacy_masks", "zones", "lines", "rules")
"""The arrays of tables the editor owns (in the order new ones are appended to a file)."""
PREVIOUS_SUFFIX = ".prev"
"""``box.toml`` is kept as ``box.toml.prev`` before each save."""


def previous_path(path: Path) -> Path:
    return path.with_name(path.name + PREVIOUS_SUFFIX)


def render(text: str, layout: Mapping[str, Any]) -> str:
    """``text`` with the editor's parts replaced by those of ``layout`` (a missing or empty
    list removes the section; ``calibration`` None removes it)."""
    doc = tomlkit.parse(text)
    for key in TABLE_LISTS:
        _sync_list(doc, key, list(layout.get(key) or []))
    cal = layout.get("calibration")
    if cal:
        if isinstance(doc.get("calibration"), Table):
            _sync_table(doc["calibration"], cal)
        else:
            doc["calibration"] = _new_table(cal)
    elif "calibration" in doc:
        del doc["calibration"]
    return tomlkit.dumps(doc)


def _sync_list(doc: tomlkit.TOMLDocument, key: str, items: Sequence[Mapping[str, Any]]) -> None:
    current = doc.get(key)
    if not items:
        if key in doc:
            del doc[key]
        return
    if not isinstance(current, AoT):
        aot = tomlkit.aot()
        for item in items:
            aot.append(_new_table(item))
        if key in doc:
            del doc[key]
        doc[key] = aot
        return
    for i, item in enumerate(items):
        if i < len(current):
            _sync_table(current[i], item)
        else:
            new = _new_table(item)
            _move_trailing_trivia(current[len(current) - 1], new)
            current.append(new)
    while len(current) > len(items):
        del current[len(current) - 1]


def _sync_table(table: Table, item: Mapping[str, Any]) -> None:
    """Keys that changed are replaced in place; keys gone are removed; new keys appended."""
    for k in [k for k in table if k not in item]:
        del table[k]
    for k, v in item.items():
        plain = _plain(v)
        if k not in table or _plain(table[k].unwrap() if hasattr(table[k], "unwrap") else table[k]) != plain:
            table[k] = _value(plain)


def _move_trailing_trivia(last: Table, new: Table) -> None:
    """Comments and blank lines ending ``last`` introduce what follows it in the file: they
    move to the end of ``new`` (appended after ``last``), which is separated by one blank line."""
    body = last.value.body
    tail: list[tuple[Any, Any]] = []
    while body and body[-1][0] is None and isinstance(body[-1][1], Whitespace | Comment):
        tail.insert(0, body.pop())
    body.append((None, Whitespace("\n")))
    new.value.body.extend(tail)


def _new_table(item: Mapping[str, Any]) -> Table:
    t = tomlkit.table()
    for k, v in item.items():
        t.add(k, _value(_plain(v)))
    return t


def _plain(v: Any) -> Any:
    if isinstance(v, tuple | list):
        return [_plain(x) for x in v]
    if isinstance(v, Mapping):
        return {k: _plain(x) for k, x in v.items()}
    return v


def _value(v: Any) -> Any:
    """Point lists stay on one line (``[[0.1, 0.2], ...]``) as a technician types them."""
    if isinstance(v, list):
        arr = tomlkit.array()
        arr.extend(_value(x) for x in v)
        return arr
    return v


def save(path: Path, text: str) -> Path:
    """Keep ``path`` as its previous version, then write ``text`` atomically; returns the
    previous version's path."""
    prev = previous_path(path)
    if path.exists():
        shutil.copy2(path, prev)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    log.info("saved %s (previous version kept as %s)", path, prev)
    return prev
