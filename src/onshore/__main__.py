"""``python -m onshore`` runs the command line."""

from onshore.cli import main

main()
