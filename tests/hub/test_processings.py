"""The processing register describes everything that runs, and nothing that does not: every
table of a freshly migrated hub database, every store a box keeps (its SQLite tables as the
real stores create them, every file the box code puts under ``data_dir``), every message kind
of the wire contract and every HTTP upload route, every role and every kind of machine
credential. A table, kind, role or token added without its description fails here."""

from __future__ import annotations

import ast
import sqlite3
from pathlib import Path

from pydantic import BaseModel

from central import create_app
from central import db as hubdb
from central.config import HubConfig
from central.privacy import processings as P
from central.privacy.register import build
from central.users import ROLES, add_api_client, add_user
from central.web.auth import DEVICE, ROLES_ATTR
from edge.wire.registry import KINDS

ROOT = Path(__file__).parents[2]
MEMORY = " (memory)"


def test_every_hub_table_is_described(tmp_path: Path) -> None:
    db = hubdb.connect(tmp_path / "hub.sqlite")
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type IN "
                                       "('table', 'view') AND name NOT LIKE 'sqlite_%'")}
    assert "search_results" in tables and "audit" in tables
    assert tables - set(P.HUB_TABLES) == set(), "describe these hub tables in processings.py"
    assert set(P.HUB_TABLES) - tables == set(), "these described tables no longer exist"
    for name, d in P.HUB_TABLES.items():  # the inventory's oldest-row column exists
        if d.oldest:
            cols = {r[1] for r in db.execute(f"PRAGMA table_info({name})")}
            assert d.oldest in cols, (name, d.oldest)


def _sqlite_stores(tmp_path: Path) -> set[str]:
    """The tables the box's real stores create, as ``file:table``."""
    from edge.outbound.outbox import Outbox
    from edge.search.index import TrackIndex
    from edge.search.seen import SeenRequests

    Outbox(tmp_path / "outbox.sqlite", 1024 * 1024)
    index = TrackIndex(tmp_path / "index.sqlite")
    SeenRequests(index.path)
    found = set()
    for f in ("outbox.sqlite", "index.sqlite"):
        with sqlite3.connect(tmp_path / f) as conn:
            found |= {f"{f}:{r[0]}" for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")}
    return found


def _config_defaults(attr: str) -> set[str]:
    """String defaults of config fields named ``attr`` (a path relative to ``data_dir``)."""
    import edge.config
    import edge.config_wings
    import edge.rules.configs

    out = set()
    for mod in (edge.config, edge.config_wings, edge.rules.configs):
        for obj in vars(mod).values():
            if isinstance(obj, type) and issubclass(obj, BaseModel) and attr in obj.model_fields:
                default = obj.model_fields[attr].default
                if isinstance(default, str):
                    out.add(default)
    return out


def _data_dir_paths() -> set[str]:
    """Every name the box code joins onto ``data_dir`` (``data_dir / "x"``), resolved."""
    found: set[str] = set()
    for path in sorted((ROOT / "edge").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        consts = {t.id: n.value.value for n in tree.body if isinstance(n, ast.Assign)
                  and isinstance(n.value, ast.Constant) and isinstance(n.value.value, str)
                  for t in n.targets if isinstance(t, ast.Name)}
        for node in ast.walk(tree):
            if not (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div)):
                continue
            left = node.left
            name = left.attr if isinstance(left, ast.Attribute) else getattr(left, "id", "")
            if name != "data_dir":
                continue
            right = node.right
            if isinstance(right, ast.Constant) and isinstance(right.value, str):
                found.add(right.value)
            elif isinstance(right, ast.Name) and right.id in consts:
                found.add(consts[right.id])
            elif isinstance(right, ast.Attribute) and _config_defaults(right.attr):
                found |= _config_defaults(right.attr)
            else:
                raise AssertionError(f"{path}:{node.lineno}: cannot tell which file "
                                     f"data_dir / {ast.unparse(right)} is")
    return found


def test_every_box_store_is_described(tmp_path: Path) -> None:
    files = _data_dir_paths()
    assert {"outbox.sqlite", "index.sqlite", "egress-ledger.jsonl", "clips", "keys"} <= files
    sqlite = _sqlite_stores(tmp_path)
    assert "index.sqlite:tracks" in sqlite
    stores = sqlite | {f for f in files if f not in ("outbox.sqlite", "index.sqlite")}
    described = {k for k in P.BOX_STORES if not k.endswith(MEMORY)}
    assert stores - described == set(), "describe these box stores in processings.py"
    assert described - stores == set(), "these described box stores no longer exist"


def test_every_message_kind_and_upload_is_described(tmp_path: Path) -> None:
    app = create_app(HubConfig(database=tmp_path / "hub.sqlite"))
    uploads = {f"{m} {r.rule}" for r in app.url_map.iter_rules()
               if getattr(app.view_functions[r.endpoint], ROLES_ATTR, None) == DEVICE
               for m in sorted(r.methods or ()) if m in ("PUT", "POST")}
    assert uploads == {"PUT /api/v1/events/<event_id>/clip", "PUT /api/v1/events/<event_id>/still"}
    crossing = {k.name for k in KINDS} | uploads
    assert crossing - set(P.MESSAGES) == set(), "describe these messages in processings.py"
    assert set(P.MESSAGES) - crossing == set(), "these described messages no longer exist"


def test_every_role_and_client_kind_is_described() -> None:
    assert set(ROLES) == set(P.ROLE_DESCRIPTIONS)
    token_fields = {f for f in HubConfig.model_fields if f.endswith("_tokens")}
    assert token_fields | {"api_clients"} == set(P.CLIENT_KINDS)
    everything = [*P.HUB_TABLES.values(), *P.BOX_STORES.values(), *P.MESSAGES.values(),
                  *P.CLIENT_KINDS.values()]
    for d in everything:  # recipients are roles that exist; retentions are known
        assert set(d.recipients) <= set(ROLES) | {"box"}, d
        assert d.retention in P.RETENTIONS, d


def test_register_counts_machine_clients_and_flags_what_is_undescribed(tmp_path: Path) -> None:
    hub = HubConfig.model_validate({
        "database": str(tmp_path / "hub.sqlite"),
        "api_tokens": {"t" * 32: "demo-operator", "u" * 32: {"actor": "vms", "role": "supervisor"}},
        "device_tokens": {"d" * 32: {"site": "demo", "camera": "cam-01"}}})
    db = hubdb.connect(hub.database)
    add_user(db, "inv", "correct horse battery", "investigator")
    add_api_client(db, "bi", "operator")
    db.execute("CREATE TABLE procedures_draft (id INTEGER PRIMARY KEY)")  # someone's new table
    doc = build([], hub, db, language="fr")
    roles = {r["role"]: r for r in doc["recipients"]}
    assert set(roles) == set(ROLES)
    assert roles["operator"]["machine_clients"] == 2  # the config token and the DB client
    assert roles["supervisor"]["machine_clients"] == 1
    assert roles["investigator"]["people"] == 1 and roles["investigator"]["label"] == "Enquêteur"
    assert {c["kind"]: c["count"] for c in doc["clients"]} == {
        "api_tokens": 2, "api_clients": 1, "device_tokens": 1}
    items = {p["name"]: p for p in doc["processings"]}
    assert not items["procedures_draft"]["described"]
    assert items["procedures_draft"]["purpose"].startswith("NON DÉCRIT")
    assert items["search_results"]["described"] and "vignette" in items["search_results"]["data"]
    assert {"index.sqlite:tracks", "search/req", "search/resp"} <= set(items)
    assert items["search_results"]["retention"].startswith("10 jours")
