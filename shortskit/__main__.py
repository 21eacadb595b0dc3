"""``python -m shortskit`` runs the command-line interface."""

from shortskit.cli import main

main()
