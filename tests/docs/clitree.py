"""Walk the ``vigie`` click tree; ``python -m tests.docs.clitree`` prints docs/reference/cli.md."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import click

from edge.cli import main

HEADER = """# `vigie` command reference

Generated from the click tree by `python -m tests.docs.clitree > docs/reference/cli.md`
(with the `hub` extra installed, so the hub's commands are there). Do not edit by hand:
`tests/docs/test_docs.py` fails when a command is missing here. Which guide uses which command:
[technician](../technician.md), [operator](../operator.md), [investigator](../investigator.md),
[privacy officer](../privacy-officer.md), [development](../development.md).
"""


def walk(
    cmd: click.Command = main, path: tuple[str, ...] = ("vigie",)
) -> Iterator[tuple[str, click.Command]]:
    """Every command and group under ``cmd``, depth first, with its full name."""
    yield " ".join(path), cmd
    if isinstance(cmd, click.Group):
        ctx = click.Context(cmd, info_name=path[-1])
        for name in cmd.list_commands(ctx):
            sub = cmd.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                yield from walk(sub, (*path, name))


def help_text(name: str, cmd: click.Command) -> str:
    """The ``--help`` output of one command, as click prints it."""
    parts = name.split()
    parent: click.Context | None = None
    for i, part in enumerate(parts[:-1]):
        parent = click.Context(_command_at(parts[: i + 1]), info_name=part, parent=parent)
    ctx = click.Context(cmd, info_name=parts[-1], parent=parent, terminal_width=100, max_content_width=100)
    return cmd.get_help(ctx)


def _command_at(parts: list[str]) -> click.Command:
    cmd: click.Command = main
    for part in parts[1:]:
        assert isinstance(cmd, click.Group)
        found = cmd.get_command(click.Context(cmd), part)
        assert found is not None, part
        cmd = found
    return cmd


def render() -> str:
    """The whole reference page: an index, then each command's help."""
    commands = list(walk())
    lines = [HEADER, "## Commands", ""]
    for name, cmd in commands:
        summary = cmd.get_short_help_str(limit=90)
        lines.append(f"- [`{name}`](#{_anchor(name)}): {summary}")
    for name, cmd in commands:
        lines += ["", f"## {name}", "", "```text", help_text(name, cmd).rstrip(), "```"]
    return "\n".join(lines) + "\n"


def _anchor(name: str) -> str:
    return name.replace(" ", "-").lower()


if __name__ == "__main__":
    sys.stdout.write(render())
