"""A box installs `vigie[edge]` only: the CLI and the agent's modules must load without Flask."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import sys
sys.modules["flask"] = None  # as on a box without the hub extra: `import flask` fails
from click.testing import CliRunner
from edge.cli import main
import edge.pipeline, edge.search.answer, edge.outbound.digests, edge.search.indexer
r = CliRunner().invoke(main, ["edge", "--help"])
assert r.exit_code == 0, r.output
print(" ".join(sorted(main.commands["edge"].commands)))
"""


def test_box_cli_and_agent_load_without_flask() -> None:
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    commands = set(out.stdout.split())
    assert {"run", "check-config", "enrol", "ledger", "replay"} <= commands
