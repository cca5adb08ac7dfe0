"""``python -m edge.cli``: the ``vigie`` command line."""

from edge.cli import main

main()
