"""A throwaway RabbitMQ (3.x, Debian's rabbitmq-server) with AMQP 1.0, for one test session.

The broker listens on 127.0.0.1 only, on free ports (plain and TLS, with a CA and
server certificate made here for the session); every file it writes (mnesia,
logs, the Erlang cookie under HOME) lives in a temporary folder; its epmd runs on a
private port and is stopped with it. The AMQP 1.0 plugin shares the AMQP listener.

Missing binaries skip the tests with the reason (``pytest.fail`` under CI=true, where
``scripts/system-deps.sh`` installs them). Use with ``@pytest.mark.amqp``.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

IN_CI = os.environ.get("CI", "").lower() == "true"
_BIN_DIRS = (Path("/usr/lib/rabbitmq/bin"), Path("/usr/sbin"))
_STARTUP_SECONDS = 90.0


def _find_bin() -> Path | None:
    for folder in _BIN_DIRS:
        if (folder / "rabbitmq-server").exists() and (folder / "rabbitmqctl").exists():
            return folder
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _make_tls_files(folder: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for 127.0.0.1/localhost (CA, cert, key)."""
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("epj test broker CA"))
        .issuer_name(name("epj test broker CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name("localhost"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file, cert_file, key_file = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ca_file, cert_file, key_file


def _erl_binary(name: str) -> str:
    return f'<<"{name}">>'


class RabbitMQServer:
    """A RabbitMQ node started for the tests; ``url`` is its AMQP (0-9-1 and 1.0) address."""

    def __init__(self, bin_dir: Path, base: Path) -> None:
        self.bin_dir = bin_dir
        self.base = base
        self.port = _free_port()
        self.tls_port = _free_port()
        self.dist_port = _free_port()
        self.epmd_port = _free_port()
        self.nodename = f"epjtest-{os.getpid()}-{uuid.uuid4().hex[:6]}@localhost"
        self.user = "guest"
        self.password = "guest"
        self._proc: subprocess.Popen[bytes] | None = None
        for sub in ("home", "mnesia", "log"):
            (base / sub).mkdir(parents=True, exist_ok=True)
        (base / "enabled_plugins").write_text("[rabbitmq_amqp1_0].\n")
        self.ca_file, cert_file, key_file = _make_tls_files(base / "tls")
        (base / "rabbitmq.conf").write_text(
            "loopback_users = none\n"
            f"listeners.tcp.default = 127.0.0.1:{self.port}\n"
            f"listeners.ssl.default = 127.0.0.1:{self.tls_port}\n"
            f"ssl_options.cacertfile = {self.ca_file}\n"
            f"ssl_options.certfile = {cert_file}\n"
            f"ssl_options.keyfile = {key_file}\n"
            "ssl_options.verify = verify_none\n"
            "ssl_options.fail_if_no_peer_cert = false\n"
            "log.console = false\n"
            "log.file.level = warning\n"
        )
        self.env = {
            **os.environ,
            "HOME": str(base / "home"),
            "PATH": f"{bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "RABBITMQ_NODENAME": self.nodename,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "ERL_EPMD_PORT": str(self.epmd_port),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(base / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq"),
            "RABBITMQ_PID_FILE": str(base / "rabbitmq.pid"),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        }

    @property
    def url(self) -> str:
        """``amqp://guest:guest@127.0.0.1:PORT``."""
        return f"amqp://{self.user}:{self.password}@127.0.0.1:{self.port}"

    @property
    def tls_url(self) -> str:
        """``amqps://guest:guest@localhost:TLSPORT`` (the name the certificate has; the
        listener is on 127.0.0.1); the server certificate is signed by ``ca_file``."""
        return f"amqps://{self.user}:{self.password}@localhost:{self.tls_port}"

    @property
    def host_port(self) -> str:
        """``127.0.0.1:PORT`` without credentials."""
        return f"127.0.0.1:{self.port}"

    def ctl(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        """Run ``rabbitmqctl -n NODE ARGS`` against this node."""
        return subprocess.run(
            [str(self.bin_dir / "rabbitmqctl"), "-n", self.nodename, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def start(self) -> None:
        """Start the node and wait until it accepts connections."""
        log = open(self.base / "server.out", "ab")  # noqa: SIM115 - kept for the process' life
        self._proc = subprocess.Popen(
            [str(self.bin_dir / "rabbitmq-server")],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + _STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"rabbitmq-server exited early:\n{self._tail()}")
            result = self.ctl("await_startup", "--timeout", "10", timeout=30)
            if result.returncode == 0 and self._port_open():
                return
            time.sleep(0.3)
        raise RuntimeError(f"rabbitmq-server did not start in time:\n{self._tail()}")

    def _port_open(self) -> bool:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 1):
            return True
        return False

    def _tail(self) -> str:
        out = self.base / "server.out"
        return out.read_text(errors="replace")[-3000:] if out.exists() else ""

    def stop(self) -> None:
        """Stop the node (gracefully, then by signal if it hangs)."""
        proc = self._proc
        if proc is None:
            return
        self._proc = None
        if proc.poll() is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.ctl("stop", timeout=60)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    def restart(self) -> None:
        """Stop and start the node on the same ports and data (durable state survives)."""
        self.stop()
        self.start()

    def kill_epmd(self) -> None:
        """Stop the epmd this node started on its private port."""
        epmd = shutil.which("epmd")
        if epmd:
            subprocess.run(
                [epmd, "-port", str(self.epmd_port), "-kill"],
                env=self.env,
                capture_output=True,
                timeout=10,
                check=False,
            )

    def declare_queue(self, name: str, *, durable: bool = True) -> None:
        """Declare a classic queue (durable by default) without any client library."""
        expr = (
            f"rabbit_amqqueue:declare(rabbit_misc:r({_erl_binary('/')}, queue, "
            f"{_erl_binary(name)}), {str(durable).lower()}, false, [], none, "
            f"{_erl_binary(self.user)})."
        )
        result = self.ctl("eval", expr)
        if result.returncode != 0:
            raise RuntimeError(f"declaring {name} failed: {result.stdout}{result.stderr}")

    def queues(self) -> dict[str, dict[str, object]]:
        """Every queue with its ``durable`` flag and ``messages`` count."""
        result = self.ctl("list_queues", "name", "durable", "messages", "--formatter", "json")
        if result.returncode != 0:
            raise RuntimeError(result.stdout + result.stderr)
        rows = json.loads(result.stdout or "[]")
        return {str(row["name"]): row for row in rows}

    def message_count(self, name: str) -> int:
        """How many messages (ready + unacknowledged) ``name`` holds; 0 if it does not exist."""
        row = self.queues().get(name)
        return int(str(row["messages"])) if row else 0


@pytest.fixture(scope="session")
def rabbitmq() -> Iterator[RabbitMQServer]:
    """A RabbitMQ node with AMQP 1.0 on 127.0.0.1, started once per session."""
    bin_dir = _find_bin()
    if bin_dir is None or shutil.which("erl") is None:
        reason = "rabbitmq-server not installed (run scripts/system-deps.sh)"
        if IN_CI:
            pytest.fail(f"{reason}; under CI=true the amqp tests must run", pytrace=False)
        pytest.skip(reason)
    base = Path(tempfile.mkdtemp(prefix="epj-rabbitmq-"))
    server = RabbitMQServer(bin_dir, base)
    try:
        server.start()
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        server.stop()
        server.kill_epmd()
        pytest.fail(f"could not start RabbitMQ: {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()
        server.kill_epmd()
        shutil.rmtree(base, ignore_errors=True)
