"""``python -m rooeft.cli`` runs the ``rooeft`` command."""

import sys

from rooeft.cli import main

sys.exit(main())
