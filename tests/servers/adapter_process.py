"""How tests start the real ``epj-adapter`` as a process."""

from __future__ import annotations

import sys
from pathlib import Path


def _command() -> list[str]:
    """The installed ``epj-adapter`` script beside this Python, else its entry point."""
    script = Path(sys.executable).parent / "epj-adapter"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from adapter.cli import main; sys.exit(main())"]


#: The argv prefix that runs ``epj-adapter``.
COMMAND = _command()
