"""The HTTP API served for real: uvicorn on 127.0.0.1 in a thread, httpx talking to it."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from adapter.domain.codes import IdType
from adapter.domain.model import OSLO, Person, Slot
from adapter.http import create_app, hash_token
from adapter.http.auth import Token, Tokens
from adapter.runtime import Runtime
from adapter.testing import MemoryTransport, clinic

FOLKE = Person("13116900216", IdType.FNR, "Folke", "Danser")
#: Tuesday 09:00, the day after EXAMPLE_START: within every horizon and lead time.
TUESDAY_9 = datetime(2026, 12, 1, 9, 0, tzinfo=OSLO)

EPJ_TOKEN = "epj-token-0123456789"
READ_TOKEN = "read-token-0123456789"
OTHER_TOKEN = "other-clinic-token-0123"


@dataclass(frozen=True)
class Served:
    """A running API: its base URL, the runtime behind it and its transport."""

    url: str
    runtime: Runtime
    transport: MemoryTransport

    @property
    def clinic(self) -> str:
        return self.runtime.adapter.clinic.key

    def client(self, token: str | None = EPJ_TOKEN) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=10)


def tokens_for(clinic_key: str) -> Tokens:
    return Tokens(
        [
            Token("epj-main", hash_token(EPJ_TOKEN), "epj", frozenset({clinic_key})),
            Token("reader", hash_token(READ_TOKEN), "read", frozenset({clinic_key})),
            Token("elsewhere", hash_token(OTHER_TOKEN), "epj", frozenset({"annen-klinikk"})),
        ]
    )


@dataclass
class Uvicorn:
    """uvicorn serving an app in a thread on 127.0.0.1 and a free port."""

    url: str
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self, timeout: float = 10) -> None:
        """Ask uvicorn to stop; fail unless it has within ``timeout`` seconds."""
        self.server.should_exit = True
        self.thread.join(timeout=timeout)
        assert not self.thread.is_alive(), "uvicorn did not stop"


def start_uvicorn(app: FastAPI, *, lifespan: Literal["on", "off"] = "off") -> Uvicorn:
    """Start ``app`` with uvicorn in a thread; returns once it accepts connections.
    ``lifespan="on"`` runs the app's lifespan (its webhook worker) too."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan=lifespan))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    return Uvicorn(f"http://127.0.0.1:{port}", server, thread)


@pytest.fixture
def serve() -> Iterator[Callable[[FastAPI], str]]:
    """Start an app with uvicorn on 127.0.0.1 and a free port; stopped at the end."""
    running: list[Uvicorn] = []

    def start(app: FastAPI) -> str:
        running.append(start_uvicorn(app))
        return running[-1].url

    yield start
    for server in running:
        server.stop()


def example_clinic(directory: Path) -> Runtime:
    """The example clinic (clock Monday 30 November 2026 07:50) with two slots of
    Ingar's on Tuesday (a vikar whose reservations wait for the clinic's decision,
    rules.toml ingar-manuell) and Folke on Benedikte's list (Ingar stands in for her)."""
    made = clinic(directory, transport=MemoryTransport())
    key = made.adapter.clinic.key
    made.adapter.load_slots(
        [
            Slot("ingar-1", key, "ingar", "oppmote", TUESDAY_9, TUESDAY_9 + timedelta(minutes=20)),
            Slot(
                "ingar-2",
                key,
                "ingar",
                "oppmote",
                TUESDAY_9 + timedelta(hours=1),
                TUESDAY_9 + timedelta(hours=1, minutes=20),
            ),
        ]
    )
    made.adapter.set_patient_list("benedikte", [FOLKE.ident])
    return made


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    """:func:`example_clinic`, closed at the end."""
    made = example_clinic(tmp_path)
    yield made
    made.close()


@pytest.fixture
def served(runtime: Runtime, serve: Callable[[FastAPI], str]) -> Served:
    transport = runtime.transport
    assert isinstance(transport, MemoryTransport)
    app = create_app(runtime, tokens=tokens_for(runtime.adapter.clinic.key))
    return Served(serve(app), runtime, transport)
