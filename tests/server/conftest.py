"""Fixtures for the server's tests: an in-thread server, a subprocess server, clients, jobs."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import shared_protocol as sp
from server.cli import start
from server.config import ServerConfig
from tests.server.client import TestClient

ROOT = Path(__file__).resolve().parents[2]
FAKE = "tests.server.fake_backend:create"


def make_job(frames: int = 4, width: int = 64, height: int = 64, seed: int = 1, **params) -> sp.Message:
    """A small valid submit: a grey reference, one square polygon mask, one arrow."""
    ref_w, ref_h = 96, 64
    reference = sp.raw_image(bytes([128]) * (ref_w * ref_h * 3), ref_w, ref_h, 3)
    square = [[[20, 20], [50, 20], [50, 50], [20, 50]]]
    tracks = [sp.track(square, [[35, 35], [60, 40]])]
    return sp.make_submit(reference, tracks, dict(frames=frames, width=width, height=height, seed=seed, **params))


class RunningServer:
    def __init__(self, service, thread) -> None:
        self.service = service
        self.thread = thread
        self.endpoint = service.endpoint

    def stop(self, timeout: float = 15.0) -> None:
        self.service.request_stop()
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "server thread did not stop"


@pytest.fixture
def server_factory():
    """Start servers in threads of this process (fast); all are stopped at teardown."""
    running: list[RunningServer] = []

    def start_server(backend: str = FAKE, backend_options: dict | None = None, **settings) -> RunningServer:
        settings.setdefault("bind", "tcp://127.0.0.1:*")
        settings.setdefault("heartbeat_interval", 0.2)
        settings.setdefault("log_level", "warning")
        cfg = ServerConfig(backend=backend, backend_options=dict(backend_options or {}), **settings)
        service = start(cfg)
        thread = threading.Thread(target=service.serve, name="test-server", daemon=True)
        thread.start()
        assert service.ready.wait(5)
        server = RunningServer(service, thread)
        running.append(server)
        return server

    yield start_server
    for server in running:
        if server.thread.is_alive():
            server.stop()


@pytest.fixture
def client_factory():
    clients: list[TestClient] = []

    def connect(endpoint: str, **kw) -> TestClient:
        client = TestClient(endpoint, **kw)
        clients.append(client)
        return client

    yield connect
    for client in clients:
        client.close()


def server_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTHONUNBUFFERED"] = "1"
    for key in list(env):
        if key.startswith("TRACKGO_") and key not in ("TRACKGO_TEST_ENV", "TRACKGO_SERVER_PYTHON"):
            del env[key]
    return env


class ServerProcess:
    def __init__(self, proc: subprocess.Popen, endpoint: str | None, ready_line: str) -> None:
        self.proc = proc
        self.endpoint = endpoint
        self.ready_line = ready_line


@pytest.fixture
def spawn_server():
    """Run ``python -m server`` as a real process; waits for the ready line."""
    procs: list[subprocess.Popen] = []

    def spawn(*args: str, wait_ready: bool = True, timeout: float = 180.0, env: dict | None = None) -> ServerProcess:
        cmd = [sys.executable, "-m", "server", *args]
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env or server_env(), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        procs.append(proc)
        if not wait_ready:
            return ServerProcess(proc, None, "")
        line = _read_line(proc, timeout)
        if not line.startswith("trackgo-server ready on "):
            proc.kill()
            raise AssertionError(f"no ready line: {line!r}; stderr: {proc.stderr.read()}")
        endpoint = line.split(" ready on ", 1)[1].split(" ", 1)[0]
        return ServerProcess(proc, endpoint, line)

    yield spawn
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        for stream in (proc.stdout, proc.stderr):
            if stream:
                stream.close()


def _read_line(proc: subprocess.Popen, timeout: float) -> str:
    result: list[str] = []
    reader = threading.Thread(target=lambda: result.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return result[0].strip() if result else ""


def wait_until(predicate, timeout: float = 5.0, interval: float = 0.01) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def held(server):
    """The in-thread server's fake backend, in ``hold`` mode: frames wait for the test's permits."""
    return server.service.workers[0].backend


def queued_positions(stream) -> list[int]:
    """The queue positions a job's ``progress`` messages announced while it waited."""
    return [m.body["queue_position"] for m in stream.messages
            if m.type == "progress" and m.body["stage"] == "queued"]
