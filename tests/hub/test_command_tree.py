"""With the hub extra installed, `vigie` offers every box and hub command: a lost one fails here."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import click

from edge.cli import HUB_COMMANDS, main

EXPECTED = """
audio
audio eval
demo
edge
edge calibrate
edge check-config
edge enrol
edge ledger
edge ledger export
edge replay
edge run
edge setup
edge stores
eval
eval scenes
hub
hub enrol-box
hub ingest
hub keygen
hub purge
hub serve
hub token
hub token add
hub token list
hub token revoke
hub user
hub user add
hub user disable
hub user list
hub user passwd
index
index eval-colour
models
models eval
models fetch
models quantize
models status
privacy
privacy access-export
privacy register
privacy verify
sim
"""


def walk(command: click.Command, path: tuple[str, ...] = ()) -> Iterator[str]:
    """Every command path under ``command`` ("edge run", "hub user add", ...)."""
    if path:
        yield " ".join(path)
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from walk(sub, (*path, name))


def test_every_command_is_there() -> None:
    assert sorted(walk(main)) == EXPECTED.strip().splitlines()


def test_the_hub_hook_adds_exactly_the_hub_commands() -> None:
    box_only = click.Group("vigie")
    from central.cli import register_commands

    register_commands(box_only)
    assert set(box_only.commands) == HUB_COMMANDS


def test_python_m_edge_cli_lists_the_hub_commands() -> None:
    out = subprocess.run([sys.executable, "-m", "edge.cli", "--help"], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    listed = {line.split()[0] for line in out.stdout.split("Commands:", 1)[1].splitlines() if line.strip()}
    assert listed == {"audio", "demo", "edge", "eval", "hub", "index", "models", "privacy", "sim"}
