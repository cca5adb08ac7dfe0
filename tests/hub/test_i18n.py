"""French first: every string people read has a French translation, templates hold no bare
text, the compiled catalogues match their sources, pages speak the person's language and show
times in the site's time zone."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests

from central import i18n
from central.config import HubConfig
from central.devtools import catalogue
from tests.kits.hubkit import Hub, hub

__all__ = ["hub"]

TEMPLATES = Path(i18n.__file__).parent / "web" / "templates"
ALLOWED_WORDS = {"Vigie"}
"""Words a template may hold untranslated: the product's name."""
_JINJA = re.compile(r"\{#.*?#\}|\{%.*?%\}|\{\{.*?\}\}", re.S)
_RAW = re.compile(r"<(script|style)\b.*?</\1>|<!--.*?-->", re.S | re.I)
_TAG = re.compile(r"<[^>]*>", re.S)
_ATTRS = re.compile(r"""\b(placeholder|title|aria-label|alt)\s*=\s*"([^"]*)\"""", re.I)
_WORD = re.compile(r"[^\W\d_]{2,}")


def _bare_words(source: str) -> list[str]:
    """Words shown to people that no ``_()`` call translates."""
    literal_attrs = [value for _name, value in _ATTRS.findall(_RAW.sub(" ", source))
                     if "{{" not in value]
    text = _JINJA.sub(" ", _RAW.sub(" ", source))
    shown = " ".join(_TAG.sub(" ", text).split()) + " " + " ".join(literal_attrs)
    shown = re.sub(r"&[a-z]+;|&#\d+;", " ", shown)
    return [w for w in _WORD.findall(shown) if w not in ALLOWED_WORDS and not w.isupper()]


def test_bare_word_check_finds_untranslated_text() -> None:
    assert _bare_words('<p>Hello {{ _("World") }}</p><input placeholder="Name">') == ["Hello", "Name"]
    assert _bare_words('<p>{{ _("Hello") }}</p><script>let x = "no";</script>') == []


@pytest.mark.parametrize("template", sorted(p.relative_to(TEMPLATES).as_posix()
                                            for p in TEMPLATES.rglob("*.html")))
def test_templates_hold_no_untranslated_text(template: str) -> None:
    words = _bare_words((TEMPLATES / template).read_text(encoding="utf-8"))
    assert not words, f"{template}: wrap these in {{{{ _('…') }}}}: {sorted(set(words))}"


def test_every_string_has_a_french_translation() -> None:
    catalog = catalogue.update("fr", catalogue.extract())
    assert len(catalog) > 50
    assert catalogue.missing(catalog) == [], "run `make translations` and translate the new strings"


def test_compiled_catalogues_match_their_sources() -> None:
    for language in i18n.LANGUAGES:
        if language == catalogue.SOURCE_LANGUAGE:
            continue
        po = catalogue.read(language)
        mo = catalogue.po_path(language).with_suffix(".mo")
        assert mo.read_bytes() == catalogue.compiled(po), f"{mo} is stale: run `make translations`"


def test_labels_times_and_ages_outside_a_request() -> None:
    fr = i18n.translator("fr")
    assert i18n.label("event_type", "person_down", fr) == "Personne au sol"
    assert i18n.label("outcome", "false_alarm", fr) == "Fausse alerte"
    assert i18n.label("outcome", "false_alarm", i18n.translator("en")) == "False alarm"
    assert i18n.label("event_type", "not-a-type", fr) == "not-a-type"
    # 10:46:14 UTC on 1 December is 11:46:14 in Paris (winter time), 12:46 in summer.
    assert i18n.when("2026-12-01T10:46:14.697Z") == "01/12/2026 11:46:14"
    assert i18n.when("2026-07-01T10:46:14Z") == "01/07/2026 12:46:14"
    assert i18n.when(None) == "—" and i18n.when("junk") == "—"
    assert i18n.age(1000.0, "fr", now=1000.0 + 180) == "il y a 3 minutes"
    assert i18n.age(1000.0, "en", now=1000.0 + 7200) == "2 hours ago"
    with pytest.raises(ValueError, match="unknown language"):
        i18n.translations("de")


def test_unknown_time_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown time zone"):
        HubConfig(timezone="Mars/Olympus")
    with pytest.raises(ValueError, match="unknown time zone"):
        HubConfig(timezone="../../etc/passwd")


def test_pages_are_french_by_default_and_english_on_request(hub: Hub) -> None:
    page = requests.get(f"{hub.url}/login", timeout=10).text
    assert '<html lang="fr">' in page and "Se connecter" in page and "Mot de passe" in page
    s = hub.login("operator")
    home = s.get(f"{hub.url}/cameras", timeout=10).text
    assert "Se déconnecter" in home and "Opérateur" in home and ">Caméras<" in home
    r = s.post(f"{hub.url}/me/language", data={"language": "en"}, allow_redirects=False,
               headers={"Referer": f"{hub.url}/cameras"}, timeout=10)
    assert r.status_code == 302 and r.headers["Location"] == "/cameras"
    home = s.get(f"{hub.url}/cameras", timeout=10).text
    assert '<html lang="en">' in home and "Log out" in home and ">Cameras<" in home
    other = hub.login("supervisor")
    assert "Se déconnecter" in other.get(f"{hub.url}/cameras", timeout=10).text, "per person"
    refused = s.post(f"{hub.url}/me/language", data={"language": "de"}, timeout=10)
    assert refused.status_code == 400 and "unknown language" in refused.text
    assert s.post(f"{hub.url}/me/language", data={"language": "fr"}, timeout=10,
                  headers={"X-CSRF-Token": "forged"}).status_code == 400
