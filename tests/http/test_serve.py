"""``epj-adapter serve``, the ``[http]`` settings and the tokens file."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from adapter.cli import main
from adapter.config import load_config
from adapter.http import TokenFileError, hash_token, load_tokens
from adapter.testing import example_config
from adapter.tools.demo import prepare

pytestmark = pytest.mark.http

TOKEN = "serve-token-0123456789"


def tokens_toml(clinic: str = "ddfl", role: str = "epj", digest: str | None = None) -> str:
    return (
        "[[tokens]]\n"
        'name = "epj-main"\n'
        f'sha256 = "{digest or hash_token(TOKEN)}"\n'
        f'role = "{role}"\n'
        f'clinics = ["{clinic}"]\n'
    )


def configured(tmp_path: Path, http: str) -> Path:
    folder = prepare(tmp_path, example_config())
    with (folder / "adapter.toml").open("a", encoding="utf-8") as f:
        f.write("\n[http]\n" + http)
    return folder


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_http_settings_default_to_off_on_loopback_with_tokens_toml_beside(
    tmp_path: Path,
) -> None:
    folder = prepare(tmp_path, example_config())
    settings = load_config(folder).settings.http
    assert settings.enabled is False
    assert settings.listen == "127.0.0.1:8470"
    assert settings.tokens == folder / "tokens.toml"


def test_http_settings_are_read_from_adapter_toml(tmp_path: Path) -> None:
    folder = configured(tmp_path, 'enabled = true\nlisten = "0.0.0.0:9000"\ntokens = "t.toml"\n')
    settings = load_config(folder).settings.http
    assert (settings.enabled, settings.listen, settings.tokens) == (
        True,
        "0.0.0.0:9000",
        folder / "t.toml",
    )


def test_a_listen_that_is_not_host_and_port_is_a_config_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = configured(tmp_path, 'listen = "8470"\n')
    assert main(["check-config", "--config", str(folder)]) == 1
    assert "[http.listen]" in capsys.readouterr().out


def test_the_tokens_file_gives_name_role_and_clinics(tmp_path: Path) -> None:
    path = tmp_path / "tokens.toml"
    path.write_text(tokens_toml(role="read"), encoding="utf-8")
    tokens = load_tokens(path)
    found = tokens.find(TOKEN)
    assert found is not None
    assert (found.name, found.role, found.clinics, found.may_write) == (
        "epj-main",
        "read",
        frozenset({"ddfl"}),
        False,
    )
    assert tokens.find("other") is None


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (tokens_toml(role="root"), "role must be one of"),
        (tokens_toml(digest="abc"), "64 hex digits"),
        (tokens_toml() + tokens_toml(), "used by two tokens"),
        ("[[tokens]\n", "not TOML"),
    ],
)
def test_a_wrong_tokens_file_is_refused_with_one_line(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "tokens.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(TokenFileError, match=says):
        load_tokens(path)


def test_serve_refuses_while_http_is_not_enabled(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = prepare(tmp_path, example_config())
    assert main(["serve", "--config", str(folder)]) == 2
    assert "enabled = true" in capsys.readouterr().err


def test_serve_refuses_a_missing_tokens_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = configured(tmp_path, "enabled = true\n")
    assert main(["serve", "--config", str(folder)]) == 2
    assert "tokens.toml: cannot read the tokens file" in capsys.readouterr().err


def test_serve_runs_the_api_on_the_listen_address_until_sigterm(tmp_path: Path) -> None:
    port = free_port()
    folder = configured(tmp_path, f'enabled = true\nlisten = "127.0.0.1:{port}"\n')
    (folder / "tokens.toml").write_text(tokens_toml(), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    process = subprocess.Popen(
        [sys.executable, "-m", "adapter.cli", "serve", "--config", str(folder)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        health = _wait_for(f"{url}/healthz", process)
        assert health.json() == {"status": "ok"}
        listed = httpx.get(
            f"{url}/clinics/ddfl/reservations", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        assert listed.status_code == 200
        assert listed.json() == {"items": [], "next_cursor": None}
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err.decode()


def _wait_for(url: str, process: subprocess.Popen[bytes]) -> httpx.Response:
    deadline = time.monotonic() + 60
    while True:
        try:
            return httpx.get(url, timeout=1)
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_run_serves_the_api_beside_the_daemon_when_http_is_enabled(tmp_path: Path) -> None:
    port = free_port()
    folder = configured(tmp_path, f'enabled = true\nlisten = "127.0.0.1:{port}"\n')
    (folder / "tokens.toml").write_text(tokens_toml(), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    process = subprocess.Popen(
        [sys.executable, "-m", "adapter.cli", "run", "--config", str(folder)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        ready = _wait_for(f"{url}/readyz", process)
        slots = httpx.get(
            f"{url}/clinics/ddfl/slots",
            headers={"Authorization": f"Bearer {TOKEN}"},
            params={"limit": 5},
            timeout=10,
        )
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    assert ready.status_code == 200, ready.text
    # run fills the book from the templates before it serves: the API reads the same one.
    assert slots.status_code == 200, slots.text
    assert len(slots.json()["items"]) == 5
    assert process.returncode == 0, err.decode()
    assert b"Traceback" not in err


def test_run_with_http_enabled_and_no_tokens_file_exits_2_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = configured(tmp_path, f'enabled = true\nlisten = "127.0.0.1:{free_port()}"\n')
    assert main(["run", "--config", str(folder)]) == 2
    assert "tokens.toml: cannot read the tokens file" in capsys.readouterr().err
