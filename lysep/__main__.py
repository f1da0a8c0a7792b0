"""``python -m lysep``: the ``lysep`` command."""

import sys

from lysep.commands.main import main

sys.exit(main())
