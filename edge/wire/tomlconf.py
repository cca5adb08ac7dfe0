"""The one TOML loader of the box and hub configurations, with line-located errors.

A config file is parsed with :mod:`tomllib` and validated by a pydantic model whose every
section forbids unknown keys (:class:`Strict`). Every mistake becomes a :class:`Problem`
naming its line (and column, for syntax errors) in the file; :class:`ConfigError` carries the
whole list, so one run reports everything:

- a syntax error stops parsing, so it is reported alone, with its line and column;
- schema errors (unknown keys, wrong types, values out of range) are all reported;
- cross-section checks of a root model (:class:`Checked`, e.g. a rule naming a zone that does
  not exist) still run when other sections have schema errors: the faulty values are set
  aside (unknown keys dropped, bad values left to their defaults) and the rest is validated
  again, so those findings are reported in the same run.
"""

from __future__ import annotations

import copy
import logging
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, model_validator

log = logging.getLogger(__name__)

Loc = tuple[str | int, ...]
ISSUES = "vigie.config.issues"
"""Validation-context key of the list that collects cross-section findings instead of raising."""
_MAX_ROUNDS = 12


class Strict(BaseModel):
    """Base of every config section: unknown keys are errors, values are frozen, and the
    docstring under a field is its description (in the generated configuration reference)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


@dataclass(frozen=True)
class Issue:
    """A cross-section finding: the location it concerns and what is wrong."""

    loc: Loc
    message: str


class Checked(Strict):
    """A root config model with checks across its sections (:meth:`cross_checks`).

    Built directly, it raises on the first findings like any validator; validated by this
    module's loader, every finding is collected with its location and line.
    """

    def cross_checks(self) -> list[Issue]:
        """Every inconsistency between sections (none by default)."""
        return []

    @model_validator(mode="after")
    def _run_cross_checks(self, info: ValidationInfo) -> Self:
        issues = self.cross_checks()
        sink = info.context.get(ISSUES) if isinstance(info.context, dict) else None
        if sink is not None:
            sink.extend(issues)
        elif issues:
            raise ValueError("; ".join(f"{dotted(i.loc)}: {i.message}" for i in issues))
        return self


@dataclass(frozen=True)
class Problem:
    """One configuration mistake: where it is (line, column, dotted path) and what is wrong."""

    line: int | None
    location: str
    message: str
    column: int | None = None

    def __str__(self) -> str:
        where = ""
        if self.line:
            where = f"line {self.line}, column {self.column}: " if self.column else f"line {self.line}: "
        return f"{where}{self.location}: {self.message}"


class ConfigError(Exception):
    """A configuration file that cannot be used; ``problems`` lists every mistake."""

    def __init__(self, path: Path, problems: list[Problem]):
        self.path = path
        self.problems = problems
        lines = "\n".join(f"  {path}:{p}" for p in problems)
        super().__init__(f"{len(problems)} problem(s) in {path}:\n{lines}")


M = TypeVar("M", bound=BaseModel)

MAX_CONFIG_BYTES = 1024 * 1024
"""A config file larger than this is refused unread (a box's or hub's file is a few KiB)."""
MAX_NESTING = 32
"""Arrays and inline tables nested deeper than this are refused before parsing (a zone's
polygon is three levels deep; tomllib recurses once per level)."""


def read_text(path: Path) -> str:
    """The file's text; an unreadable, oversized or non-UTF-8 file is a :class:`ConfigError`."""
    try:
        with path.open("rb") as f:
            data = f.read(MAX_CONFIG_BYTES + 1)
        if len(data) > MAX_CONFIG_BYTES:
            raise ConfigError(path, [Problem(None, "(file)", f"larger than {MAX_CONFIG_BYTES} bytes")])
        return data.decode("utf-8")
    except OSError as exc:
        raise ConfigError(path, [Problem(None, "(file)", f"cannot read: {exc.strerror}")]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(path, [Problem(None, "(file)", f"not UTF-8 text: {exc.reason}")]) from None


def too_deep(text: str, limit: int = MAX_NESTING) -> int | None:
    """The line on which arrays or inline tables first nest deeper than ``limit``, else None.

    One linear pass; brackets inside strings and comments do not count."""
    depth, line, i, n = 0, 1, 0, len(text)
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
        elif c == "#":
            while i < n and text[i] != "\n":
                i += 1
            continue
        elif c in "\"'":
            quote = text[i:i + 3] if text[i:i + 3] in ('"""', "'''") else c
            i += len(quote)
            while i < n and not text.startswith(quote, i):
                if text[i] == "\n":
                    line += 1
                i += 2 if text[i] == "\\" and quote[0] == '"' else 1
            i += len(quote)
            continue
        elif c in "[{":
            depth += 1
            if depth > limit:
                return line
        elif c in "]}":
            depth = max(depth - 1, 0)
        i += 1
    return None


def parse_toml(text: str, path: Path) -> dict[str, Any]:
    """The TOML document; a syntax error is a :class:`ConfigError` with its line and column."""
    if (deep := too_deep(text)) is not None:
        raise ConfigError(path, [Problem(deep, "(syntax)", f"nested deeper than {MAX_NESTING} levels")])
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg, line, col = str(exc), None, None
        if m := re.search(r"\s*\(at line (\d+), column (\d+)\)$", msg):
            line, col = int(m.group(1)), int(m.group(2))
        elif m := re.search(r"\s*\(at end of document\)$", msg):
            line = max(1, len(text.splitlines()))
        if m is not None:
            msg = msg[: m.start()]
        raise ConfigError(path, [Problem(line, "(syntax)", f"invalid TOML: {msg}", col)]) from None


Prepare = Callable[[dict[str, Any], Path], None]


def load_model(model: type[M], path: Path | str, prepare: Prepare | None = None,
               fallbacks: Mapping[str, Any] | None = None) -> M:
    """Read, parse and validate ``path`` as ``model``; raise :class:`ConfigError` listing every problem.

    ``prepare(data, folder)`` may rewrite the parsed document first (e.g. resolve relative
    paths); ``fallbacks`` are stand-ins for required top-level keys (see :func:`collect`).
    """
    path = Path(path)
    text = read_text(path)
    return parse_model(model, text, path, prepare, fallbacks)


def parse_model(model: type[M], text: str, path: Path, prepare: Prepare | None = None,
                fallbacks: Mapping[str, Any] | None = None) -> M:
    """Validate TOML ``text`` as ``model``; ``path`` locates it in messages."""
    data = parse_toml(text, path)
    if prepare is not None:
        prepare(data, path.parent)
    cfg, problems = collect(model, data, text, fallbacks)
    if problems or cfg is None:
        raise ConfigError(path, problems)
    return cfg


def collect(model: type[M], data: dict[str, Any], text: str,
            fallbacks: Mapping[str, Any] | None = None) -> tuple[M | None, list[Problem]]:
    """Validate ``data`` as ``model`` and return it (None when invalid) with every problem found.

    When sections have schema errors, the faulty values are set aside on a copy and the rest
    validated again, so that a :class:`Checked` root's cross-section findings are reported
    too. ``fallbacks`` stand in for faulty required top-level keys during those retries (they
    are never returned: with any problem, the model returned is None). List items are never
    dropped (their positions locate later findings), so a faulty required key inside one
    stops the retries; later retries report only errors unrelated to what was set aside.
    """
    issues: list[Issue] = []
    try:
        cfg = model.model_validate(data, context={ISSUES: issues})
        return (None, _by_line(located_issues(issues, text))) if issues else (cfg, [])
    except ValidationError as exc:
        problems = problems_from(exc, text, data)
        errors = exc.errors()
    work = copy.deepcopy(data)
    set_aside: list[Loc] = []
    for first in [True, *[False] * (_MAX_ROUNDS - 1)]:
        this_round: list[Loc] = []
        for err, loc in [(e, _data_loc(e, work)) for e in errors]:  # located before any is set aside
            if any(loc[: len(s)] == s for s in this_round):
                continue  # already set aside with its container
            if not first and not any(_related(loc, s) for s in set_aside):
                problems.append(_problem(err, loc, text))
            pruned = _set_aside(work, loc, fallbacks or {})
            if pruned is None or pruned in set_aside:
                log.debug("cross-section checks skipped: %s cannot be set aside", dotted(loc))
                return None, _by_line(problems)
            set_aside.append(pruned)
            this_round.append(pruned)
        issues.clear()
        try:
            model.model_validate(work, context={ISSUES: issues})
        except ValidationError as again:
            errors = again.errors()
            continue
        return None, _by_line(problems + located_issues(issues, text))
    return None, _by_line(problems)


def located_issues(issues: list[Issue], text: str) -> list[Problem]:
    """Cross-section findings as problems with the line of what they name."""
    return [Problem(locate(text, list(i.loc)), dotted(i.loc) or "(top level)", i.message) for i in issues]


def problems_from(exc: ValidationError, text: str, data: Any = None) -> list[Problem]:
    """Turn pydantic errors into problems with the TOML line each one points at."""
    return [_problem(err, _data_loc(err, data), text) for err in exc.errors()]


def _problem(err: Any, loc: Loc, text: str) -> Problem:
    msg = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = "unknown key (not a setting of this section; check the spelling)"
    return Problem(locate(text, list(loc)), dotted(loc) or "(top level)", msg)


def dotted(loc: Loc) -> str:
    """``("rules", 0, "zone")`` -> ``rules[0].zone``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _data_loc(err: Any, data: Any) -> Loc:
    """The error's location as a path in the document: union tags (``rules[0].intrusion``,
    ``api_tokens.x.str``) that pydantic adds but the file does not have are dropped."""
    loc = tuple(err["loc"])
    if data is None:
        return loc
    out: list[str | int] = []
    node = data
    for n, part in enumerate(loc):
        last = n == len(loc) - 1
        if isinstance(node, dict) and isinstance(part, str):
            if part in node:
                out.append(part)
                node = node[part]
            elif last and err["type"] == "missing":
                out.append(part)
            continue  # a tag: the document has no such level
        if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            out.append(part)
            node = node[part]
            continue
        if isinstance(node, dict | list):
            out.append(part)
            node = None
        # below a scalar, the remaining parts are tags
    return tuple(out)


def _related(a: Loc, b: Loc) -> bool:
    n = min(len(a), len(b))
    return a[:n] == b[:n]


def _walk(data: Any, loc: Loc) -> Any:
    node = data
    for part in loc:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return None
    return node


def _set_aside(work: dict[str, Any], loc: Loc, fallbacks: Mapping[str, Any]) -> Loc | None:
    """Remove the faulty value at ``loc`` (or the nearest key holding it) so its default applies;
    a required top-level key gets its fallback. Returns what was set aside, None if nothing can be."""
    path = list(loc)
    exists = True
    while path:
        key = path[-1]
        parent = _walk(work, tuple(path[:-1]))
        if isinstance(key, int):
            # a scalar inside a list value (a point, a class name): set the whole value aside;
            # never a list item that is a table (zones, rules): positions locate other findings
            if not exists or not isinstance(parent, list) or not 0 <= key < len(parent) \
                    or isinstance(parent[key], dict):
                return None
            path.pop()
            continue
        if not isinstance(parent, dict):
            return None
        top = len(path) == 1
        if top and key in fallbacks:
            if parent.get(key) == fallbacks[key]:
                return None
            parent[key] = copy.deepcopy(fallbacks[key])
            return tuple(path)
        if key in parent:
            del parent[key]
            return tuple(path)
        exists = False
        path.pop()
    return None


def _by_line(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: (p.line is None, p.line or 0))


def locate(text: str, loc: list[Any]) -> int | None:
    """Best-effort line number (1-based) of a document location in TOML text."""
    table: list[Any] = []
    counts: dict[tuple[str, ...], int] = {}
    best: int | None = None
    target = [str(p) for p in loc]
    header = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\-]+)\s*\]\]?")
    keyline = re.compile(r"^\s*([A-Za-z0-9_\-]+)\s*=")
    for lineno, line in enumerate(text.splitlines(), start=1):
        if m := header.match(line):
            parts = m.group(2).split(".")
            if m.group(1) == "[[":
                key = tuple(parts)
                counts[key] = counts.get(key, -1) + 1
                table = [*parts, str(counts[key])]
            else:
                table = parts
            if target[: len(table)] == table:
                best = lineno
            continue
        if m := keyline.match(line):
            full = [*table, m.group(1)]
            if target[: len(full)] == full:
                return lineno
    return best
