"""``python -m core.assets``: see :mod:`core.assets.cli`."""

import sys

from .cli import main

sys.exit(main())
