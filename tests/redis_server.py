"""A real ``redis-server`` for the tests, on a free loopback port, one per session.

Never a skip: a missing binary fails the tests that need it, with the command that
installs it (``.ci/run`` installs Debian's ``redis-server``).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

__all__ = ["RedisServer", "redis_server"]


@attrs.frozen
class RedisServer:
    """A running redis-server.

    Attributes:
        url: ``redis://127.0.0.1:PORT/0``.
        port: Its port.
        process: The server process (kill it to test failures; a fixture restarts none).
    """

    url: str
    port: int
    process: subprocess.Popen[bytes]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_redis(directory: Path) -> RedisServer:
    """Start a redis-server in ``directory`` (no persistence) and wait until it answers."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed: apt-get install -y redis-server")
    port = _free_port()
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(directory),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as conn:
                conn.sendall(b"PING\r\n")
                if conn.recv(16).startswith(b"+PONG"):
                    return RedisServer(f"redis://127.0.0.1:{port}/0", port, process)
        except OSError:
            time.sleep(0.02)
    process.kill()
    pytest.fail(f"redis-server did not answer on port {port} within 10 s")


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One redis-server for the session; each test should use its own key prefix."""
    server = start_redis(tmp_path_factory.mktemp("redis"))
    try:
        yield server
    finally:
        server.process.kill()
        server.process.wait()
