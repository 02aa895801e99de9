"""Helpers of the ops tests: an installation whose state folders the service may not
write, and ``epj-adapter`` run as a process in it.

Root writes through file modes, so as root the folder is made really read-only: the
command runs in a mount namespace of its own where the installation is bind-mounted
read-only (nothing changes outside that process). As any other user the write bits
are taken away."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from adapter.tools.demo import prepare
from tests.servers.adapter_process import COMMAND

ROOT = Path(__file__).resolve().parents[2]

#: Runs "$@" with the folder "$0" bind-mounted read-only (in a private mount namespace).
_READ_ONLY_MOUNT = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" "$0" && exec "$@"'


def clean_env() -> dict[str, str]:
    """The environment for a child ``epj-adapter`` (no pytest variables, no config
    location from the caller's shell)."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PYTEST") and k != "EPJ_ADAPTER_CONFIG"
    }


@functools.cache
def _can_unshare() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = ["unshare", "--mount", "--propagation", "private", "true"]
    return subprocess.run(probe, capture_output=True, check=False).returncode == 0


@dataclass
class ReadOnlyInstall:
    """The example install in ``root``; :meth:`run` runs ``epj-adapter`` where neither
    its ``state`` folder nor ``root`` (where the queue folder would go) can be written."""

    root: Path
    config: Path

    @property
    def state(self) -> Path:
        """The state directory of the demo configuration (``[paths] state_dir``)."""
        return self.root / "state"

    def _writable(self, writable: bool) -> None:
        if os.geteuid() != 0:
            mode = 0o755 if writable else 0o555
            self.state.chmod(mode)
            self.root.chmod(mode)

    def create_database(self) -> Path:
        """Make the database as the service would, before the folder is read-only."""
        from adapter.config import load_config
        from adapter.store import Store

        self._writable(True)
        try:
            store = Store(load_config(self.config).settings.database_url)
            store.create_schema()
            store.dispose()
        finally:
            self._writable(False)
        return self.state / "adapter.db"

    def run(self, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """``epj-adapter ARGV`` with the installation read-only."""
        command = [*COMMAND, *argv]
        if os.geteuid() == 0:
            command = [
                *("unshare", "--mount", "--propagation", "private"),
                *("sh", "-c", _READ_ONLY_MOUNT, str(self.root), *command),
            ]
        return subprocess.run(
            command,
            cwd=self.root,
            env=clean_env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


@pytest.fixture
def read_only_install(tmp_path: Path) -> Iterator[ReadOnlyInstall]:
    """The example install with a state directory that exists but cannot be written."""
    if os.geteuid() == 0 and not _can_unshare():
        pytest.skip("running as root without `unshare --mount`: no way to make a folder read-only")
    config = prepare(tmp_path, ROOT / "config")
    (tmp_path / "state").mkdir()
    install = ReadOnlyInstall(tmp_path, config)
    install._writable(False)
    try:
        yield install
    finally:
        install._writable(True)
