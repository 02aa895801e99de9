"""``python -m adapter.cli``: the same as the ``epj-adapter`` command."""

import sys

from adapter.cli import main

sys.exit(main())
