"""``python -m g6app``: see g6app.cli."""
import sys

from g6app.cli import main

sys.exit(main())
