"""``python -m maintenance_mode`` runs the ``maintenance`` command."""

import sys

from .cli import main

sys.exit(main())
