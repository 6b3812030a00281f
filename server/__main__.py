"""``python -m server``: the same as the ``trackgo-server`` console script."""
import sys

from server.cli import main

sys.exit(main())
