"""The hub's non-web parts import and open a database without Flask: only ``create_app`` and
the :mod:`central.web` modules it registers need it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HEADLESS = ("central", "central.db", "central.db.migrations", "central.db.queries",
            "central.config", "central.audit", "central.users", "central.privacy.retention",
            "central.ingest.subscriber", "central.forensic.searches", "central.forensic.fanout")

CHILD = r'''
import importlib.abc, json, sys
from pathlib import Path

class NoFlask(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in ("flask", "werkzeug"):
            raise ImportError(f"{name} is blocked: this process has no web framework")
        return None

sys.meta_path.insert(0, NoFlask())
try:
    import flask  # noqa: F401
    blocked = False
except ImportError:
    blocked = True
import importlib
for name in sys.argv[2:]:
    importlib.import_module(name)
import central.db
db = central.db.connect(Path(sys.argv[1]))
tables = sorted(r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"))
print(json.dumps({"blocked": blocked, "tables": tables,
                  "web": sorted(m for m in sys.modules
                                if m.partition(".")[0] in ("flask", "werkzeug")
                                or m.startswith("central.web"))}))
'''


def test_hub_modules_import_without_flask(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path / "hub.sqlite"), *HEADLESS],
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["blocked"] is True
    assert out["web"] == []
    assert {"events", "cameras", "quarantine", "searches", "_migrations"} <= set(out["tables"])
