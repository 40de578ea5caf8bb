"""``python -m gansearch``: the command line."""

from .cli import main

main()
