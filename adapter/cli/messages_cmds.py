"""Commands of the `messages_cmds` group (see adapter.cli)."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add this group's commands to the parser."""
