"""The register's sections built from what runs: the hub database's tables, the boxes' stores,
the wire contract's message kinds and HTTP uploads, the roles and the machine clients, each with
its description from :mod:`central.privacy.processings` (an item nobody described is listed as
such, and ``tests/hub/test_processings.py`` fails on it)."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from central.i18n import N_, label
from central.privacy.processings import (
    BOX_STORES,
    CLIENT_KINDS,
    COMMON_SECURITY,
    HUB_TABLES,
    MESSAGES,
    RETENTIONS,
    ROLE_DESCRIPTIONS,
    Described,
)

log = logging.getLogger(__name__)

__all__ = ["COMMON_SECURITY", "Context", "clients", "hub_tables", "message_names",
           "processings", "recipients", "subjects"]

Gettext = Callable[[str], str]
HTTP_METHODS = ("PUT ", "POST ")

PURPOSE = N_("detection of the predetermined events of French decree 2023-828 on video-protection "
             "images, for the attention of CSU operators (a human decides); counting for planning; "
             "forensic search of vehicles and tracks for a case; proof of what left each camera")
FRAMEWORK = N_("French law 2023-380 art. 10 and decree 2023-828; internal security code "
               "(video-protection images, 30 days at most); EU AI Act art. 5(1)(h): no biometric "
               "identification, no face recognition")
LEGAL_BASIS = N_("public-interest mission (GDPR art. 6(1)(e)); French law 2023-380 art. 10 and "
                 "decree 2023-828; for audio, the legal basis recorded in each box's configuration")
TRANSFERS = N_("none: boxes, broker and hub are on the controller's premises; no data is "
               "transferred outside the European Union, nor to a processor")
FLOWS = (
    N_("camera -> box (video over the local network; processed in memory)"),
    N_("box -> MQTT broker -> hub ingest: event, health, state, stats, ledger and search answer "
       "messages under vigie/v1/<site>/<camera>/ (per-box credentials, schema-checked and "
       "ledgered)"),
    N_("hub -> box: signed forensic search requests"),
    N_("box -> hub HTTPS: anonymised clip upload for an event (device token, ledgered)"),
    N_("hub -> people: web pages and API by role (every clip view, search and export audited)"),
    N_("hub -> requester: subject-access exports (ZIP, others blurred; audited with a reason)"),
)
SCOPES = {"hub": N_("hub database"), "box": N_("each box"), "network": N_("network"),
          "role": N_("role"), "client": N_("machine client")}


@dataclass(frozen=True)
class Context:
    """What the texts need: the language and the configured retentions."""

    gettext: Gettext
    hub_days: int | None
    index_days: list[int]


def retention_text(key: str, ctx: Context) -> str:
    """A retention key of :data:`RETENTIONS` in words, with the configured days."""
    from central.privacy.inventory import LEGAL_MAX_DAYS

    _ = ctx.gettext
    text = _(RETENTIONS[key])
    if key in ("hub", "search"):
        if ctx.hub_days is None:
            return _("the retention in force at the hub (hub configuration not given; legal "
                     "maximum %(max)d days)") % {"max": LEGAL_MAX_DAYS}
        return text % {"days": ctx.hub_days, "max": LEGAL_MAX_DAYS}
    if key == "index" and ctx.index_days:
        return text + " — " + _("configured: %(days)s days") % {
            "days": ", ".join(str(d) for d in ctx.index_days)}
    return text


def hub_tables(db: Any | None) -> list[str]:
    """The tables and views of the hub database (a freshly migrated one when none is given)."""
    if db is None:
        from central import db as hubdb

        db = hubdb.connect(Path(":memory:"))
    rows = db.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name "
                      "NOT LIKE 'sqlite_%' ORDER BY name").fetchall()
    return [str(r[0]) for r in rows]


def message_names() -> list[str]:
    """Every MQTT message kind of the contract, then every HTTP upload described."""
    from edge.wire.registry import KINDS

    return [k.name for k in KINDS] + [n for n in MESSAGES if n.startswith(HTTP_METHODS)]


def _entry(scope: str, name: str, d: Described | None, ctx: Context) -> dict[str, Any]:
    _ = ctx.gettext
    if d is None:
        log.warning("register: %s %s has no description", scope, name)
        missing = _("NOT DESCRIBED: add it to central/privacy/processings.py")
        return {"scope": scope, "where": _(SCOPES[scope]), "name": name, "described": False,
                "purpose": missing, "data": "?", "subjects": "?", "recipients": [],
                "retention": "?", "security": "?"}
    recipients = [_("nobody (stays on the box)") if r == "box" else label("role", r, _)
                  for r in d.recipients]
    return {"scope": scope, "where": _(SCOPES[scope]), "name": name, "described": True,
            "purpose": _(d.purpose), "data": _(d.data), "subjects": _(d.subjects),
            "recipients": recipients, "retention": retention_text(d.retention, ctx),
            "security": _(d.security)}


def processings(db: Any | None, ctx: Context) -> list[dict[str, Any]]:
    """Every hub table, box store, message kind and machine-client kind, described."""
    out = [_entry("hub", t, HUB_TABLES.get(t), ctx) for t in hub_tables(db)]
    out += [_entry("box", n, d, ctx) for n, d in BOX_STORES.items()]
    out += [_entry("network", n, MESSAGES.get(n), ctx) for n in message_names()]
    out += [_entry("client", n, d, ctx) for n, d in CLIENT_KINDS.items()]
    return out


def subjects(_: Gettext) -> list[str]:
    """The categories of persons concerned, as the descriptions name them."""
    found = {d.subjects for table in (HUB_TABLES, BOX_STORES, MESSAGES) for d in table.values()}
    return [_(s) for s in sorted(found)]


def _config_tokens(hub: Any | None) -> Counter[str]:
    """Machine clients of the hub config's ``api_tokens`` by role (a bare name: operator)."""
    roles: Counter[str] = Counter()
    for holder in (hub.api_tokens.values() if hub is not None else ()):
        roles["operator" if isinstance(holder, str) else holder.role] += 1
    return roles


def recipients(db: Any | None, hub: Any | None, _: Gettext) -> list[dict[str, Any]]:
    """Every role (:data:`central.users.ROLES`): what it sees, its people and machine clients."""
    from central.users import ROLES

    people: dict[str, int] = {}
    clients: Counter[str] = _config_tokens(hub)
    if db is not None:
        people = dict(db.execute("SELECT role, COUNT(*) FROM users WHERE disabled = 0 "
                                 "GROUP BY role").fetchall())
        clients.update(dict(db.execute("SELECT role, COUNT(*) FROM api_clients WHERE "
                                       "disabled = 0 GROUP BY role").fetchall()))
    known = db is not None or hub is not None
    out = []
    for role in ROLES:
        sees = ROLE_DESCRIPTIONS.get(role)
        out.append({"role": role, "label": label("role", role, _),
                    "people": people.get(role, 0) if db is not None else None,
                    "machine_clients": clients.get(role, 0) if known else None,
                    "sees": _(sees) if sees else _("NOT DESCRIBED: add it to "
                                                   "central/privacy/processings.py"),
                    "described": sees is not None})
    return out


def clients(db: Any | None, hub: Any | None, _: Gettext) -> list[dict[str, Any]]:
    """How many machine credentials of each kind the hub accepts (None: not known)."""
    counts: dict[str, int | None] = {"api_tokens": None, "api_clients": None, "device_tokens": None}
    if hub is not None:
        counts["api_tokens"] = len(hub.api_tokens)
        counts["device_tokens"] = len(hub.device_tokens)
    if db is not None:
        counts["api_clients"] = int(db.execute(
            "SELECT COUNT(*) FROM api_clients WHERE disabled = 0").fetchone()[0])
    return [{"kind": k, "count": counts.get(k), "purpose": _(d.purpose), "security": _(d.security)}
            for k, d in CLIENT_KINDS.items()]
