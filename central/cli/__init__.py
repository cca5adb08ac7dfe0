"""The hub's commands, registered on the ``vigie`` root through :func:`register_commands`."""
