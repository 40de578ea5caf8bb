"""``python -m gansearch``: the command line."""

from gansearch.cli import main

main()
