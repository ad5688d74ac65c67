"""A real ``redis-server`` for behaviour tests.

``redis_server`` (a module-scoped pytest fixture) starts the Debian package's
``redis-server`` on a free port of 127.0.0.1, in a temporary directory, with persistence
off (``--save "" --appendonly no``), waits until it answers PING and stops it afterwards.
``redis_url`` (per test) gives its URL with an empty database 0.

When ``redis-server`` is not on PATH the tests FAIL (not skip): CI installs it with apt,
and a skip would hide a missing install. Import both fixtures into a test module with
``from tests.behaviour.redis_server import redis_server, redis_url``.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest
import redis

START_TIMEOUT = 10.0


@dataclass
class RedisServer:
    port: int
    process: subprocess.Popen
    log: Path

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, db=0, socket_timeout=5)


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running_redis_server(folder: Path) -> Iterator[RedisServer]:
    """Start ``redis-server`` in ``folder``; stop it on exit."""
    executable = shutil.which("redis-server")
    if executable is None:
        pytest.fail(
            "redis-server is not on PATH: the redis-counter behaviour tests need a real Redis "
            "(Debian/Ubuntu: apt-get install redis-server; .ci/run installs it)",
            pytrace=False,
        )
    last_error = ""
    for _attempt in range(3):  # another process may grab the free port before the server does
        port = free_port()
        log = folder / f"redis-{port}.log"
        command = [
            executable,
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(folder),
            "--logfile", str(log),
            "--daemonize", "no",
        ]
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        server = RedisServer(port, process, log)
        if _wait_until_ready(server):
            try:
                yield server
            finally:
                _stop(process)
            return
        _stop(process)
        last_error = log.read_text(errors="replace")[-2000:] if log.exists() else "(no log)"
    pytest.fail(f"redis-server did not start; its log:\n{last_error}", pytrace=False)


def _wait_until_ready(server: RedisServer) -> bool:
    deadline = time.monotonic() + START_TIMEOUT
    client = server.client()
    try:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                return False
            try:
                if client.ping():
                    return True
            except redis.exceptions.ConnectionError:
                time.sleep(0.05)
        return False
    finally:
        client.close()


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with running_redis_server(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture
def redis_url(redis_server: RedisServer) -> Iterator[str]:
    """The server's URL, with database 0 emptied before the test."""
    client = redis_server.client()
    try:
        client.flushdb()
    finally:
        client.close()
    yield redis_server.url
