"""``python -m sensekit`` runs the ``sensekit`` command."""

import sys

from .cli import main

sys.exit(main())
