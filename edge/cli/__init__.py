"""The ``vigie`` command line: the root group, the box's commands, and the hub's when installed.

The box's commands come from this package (``models``, ``edge``, ``audio``, ``index``, ``eval``). The hub
adds its own (``hub``, ``privacy``, ``demo``, ``sim``) through one hook,
:func:`central.cli.register_commands`, called only when the hub extra is installed: a box's
``vigie --help`` lists only what can run there, and a hub command on a box is a clear error.
"""

from __future__ import annotations

import importlib.util
import logging
import sys

import click

from edge.cli.audio import audio
from edge.cli.box import edge
from edge.cli.evaluate import evaluate
from edge.cli.index import index
from edge.cli.models import models

log = logging.getLogger("vigie")

HUB_EXTRA_MODULES = ("flask", "sqlite_utils")
"""What the ``hub`` extra installs that a box does not have."""
HUB_COMMANDS = frozenset({"hub", "privacy", "demo", "sim"})
"""The root's commands that :func:`central.cli.register_commands` adds."""


def hub_extra_installed() -> bool:
    """Whether the hub's dependencies are importable (checked without importing them)."""
    try:
        return all(importlib.util.find_spec(name) is not None for name in HUB_EXTRA_MODULES)
    except ValueError:  # a module in sys.modules without a spec: treat it as absent
        return False


class RootGroup(click.Group):
    """The ``vigie`` group: a hub command asked for on a box says which extra it needs."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in HUB_COMMANDS:
            raise click.UsageError(
                f"`vigie {cmd_name}` is one of the hub's commands, which need the hub extra: "
                "pip install 'vigie[hub]'", ctx)
        return command


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


@click.group(cls=RootGroup)
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages too.")
@click.version_option(package_name="vigie")
def main(verbose: bool) -> None:
    """Vigie: privacy-first video analytics. Only events leave the camera."""
    _setup_logging(verbose)


for _command in (models, edge, audio, index, evaluate):
    main.add_command(_command)

if hub_extra_installed():
    from central.cli import register_commands

    register_commands(main)
