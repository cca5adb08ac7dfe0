"""The hub's gettext catalogues: extract every string of the code, templates and page scripts,
merge it into each language's ``messages.po`` (keeping the translations made) and compile the
``.mo`` files Flask-Babel reads. ``make translations`` runs it; tests check nothing is missing.
"""

from __future__ import annotations

import argparse
import io
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from central.i18n import LANGUAGES, TRANSLATIONS

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[1]
METHODS = [
    ("**/devtools/**.py", "ignore"),
    ("**.py", "python"),
    ("**/templates/**.html", "jinja2"),
    ("**/static/**.js", "javascript"),
]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "N_": None,
            "t": None}
FIXED_DATE = datetime(2026, 1, 1, tzinfo=UTC)
"""The catalogues' header dates: fixed, so that regenerating them changes only strings."""
SOURCE_LANGUAGE = "en"
"""The language the strings are written in: its catalogue is the identity."""


def extract() -> Catalog:
    """Every translatable string of the hub, with where it is used."""
    catalog = Catalog(project="vigie", charset="utf-8", creation_date=FIXED_DATE)
    for filename, lineno, message, comments, context in extract_from_dir(
            str(ROOT), METHODS, keywords=KEYWORDS, comment_tags=("TRANSLATORS:",),
            options_map={"**/templates/**.html": {"extensions": "jinja2.ext.do"}}):
        catalog.add(message, None, [(f"central/{filename}", lineno)], auto_comments=comments,
                    context=context)
    return catalog


def po_path(language: str) -> Path:
    return TRANSLATIONS / language / "LC_MESSAGES" / "messages.po"


def read(language: str) -> Catalog:
    path = po_path(language)
    if not path.exists():
        return Catalog(locale=language, project="vigie", charset="utf-8", fuzzy=False,
                       creation_date=FIXED_DATE, revision_date=FIXED_DATE)
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=language)
    catalog.fuzzy = False
    return catalog


def update(language: str, template: Catalog) -> Catalog:
    """``language``'s catalogue with every string of ``template``; obsolete ones dropped."""
    catalog = read(language)
    catalog.update(template, no_fuzzy_matching=True, update_creation_date=False)
    catalog.obsolete.clear()
    catalog.revision_date = FIXED_DATE
    return catalog


def compiled(catalog: Catalog) -> bytes:
    buf = io.BytesIO()
    write_mo(buf, catalog)
    return buf.getvalue()


def missing(catalog: Catalog) -> list[str]:
    """The strings of ``catalog`` with no translation (or a fuzzy one)."""
    out = []
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy or not all(strings):
            out.append(message.id if isinstance(message.id, str) else message.id[0])
    return out


def write(language: str, catalog: Catalog) -> None:
    path = po_path(language)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        write_po(fh, catalog, width=100, sort_output=True, omit_header=False, include_lineno=False)
    path.with_suffix(".mo").write_bytes(compiled(catalog))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m central.devtools.catalogue",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 when a string has no translation")
    args = parser.parse_args(argv)
    template = extract()
    status = 0
    for language in LANGUAGES:
        if language == SOURCE_LANGUAGE:
            continue
        catalog = update(language, template)
        gaps = missing(catalog)
        if gaps:
            status = 1
            print(f"{language}: {len(gaps)} string(s) without a translation:", file=sys.stderr)
            for gap in gaps:
                print(f"  {gap!r}", file=sys.stderr)
        if not args.check:
            write(language, catalog)
            print(f"{language}: {len(catalog)} strings, {po_path(language)}")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
