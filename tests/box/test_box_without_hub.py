"""A box installs `vigie[edge]` only: the CLI and the agent's modules must load without Flask,
its help lists only what runs there, and a hub command says which extra it needs."""

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

VIGIE_ON_A_BOX = """
import sys
sys.modules["flask"] = None  # as on a box without the hub extra: `import flask` fails
from edge.cli import main
main(sys.argv[1:], prog_name="vigie")
"""


def vigie_on_a_box(*args: str) -> subprocess.CompletedProcess[str]:
    """``vigie ARGS`` as a box without the hub extra runs it."""
    return subprocess.run([sys.executable, "-c", VIGIE_ON_A_BOX, *args], capture_output=True,
                          text=True, timeout=120)


def test_box_cli_and_agent_load_without_flask() -> None:
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    commands = set(out.stdout.split())
    assert {"run", "check-config", "enrol", "ledger", "replay"} <= commands


def test_box_help_lists_only_box_commands() -> None:
    out = vigie_on_a_box("--help")
    assert out.returncode == 0, out.stderr[-2000:]
    listed = {line.split()[0] for line in out.stdout.split("Commands:", 1)[1].splitlines() if line.strip()}
    assert listed == {"audio", "edge", "eval", "index", "models"}, out.stdout


def test_hub_command_on_a_box_is_a_clear_error() -> None:
    for args in (["hub"], ["hub", "ingest", "--config", "hub.toml"], ["privacy", "verify"],
                 ["demo"], ["sim", "--cameras", "1"]):
        out = vigie_on_a_box(*args)
        assert out.returncode == 2, (args, out.stdout, out.stderr)
        assert "Traceback" not in out.stderr, out.stderr
        assert f"`vigie {args[0]}`" in out.stderr, out.stderr
        assert "hub extra: pip install 'vigie[hub]'" in out.stderr, out.stderr
