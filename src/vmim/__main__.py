"""``python -m vmim``: the same as the ``vmim`` command."""

import sys

from vmim.cli.main import main

sys.exit(main())
