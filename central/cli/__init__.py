"""The hub's commands, registered on the ``vigie`` root through :func:`register_commands`.

The root calls the hook only when the hub extra (Flask, sqlite-utils) is installed, so a box's
``vigie --help`` lists none of these.
"""

from __future__ import annotations

import click


def register_commands(root: click.Group) -> None:
    """Add ``vigie hub ...``, ``vigie privacy ...``, ``vigie demo`` and ``vigie sim`` to ``root``."""
    from central.cli.devtools import demo, sim
    from central.cli.hub import hub
    from central.cli.privacy import enrol_box, privacy
    from central.cli.users import token, user

    for command in (user, token, enrol_box):
        hub.add_command(command)
    for command in (hub, privacy, demo, sim):
        root.add_command(command)
