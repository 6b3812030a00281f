"""A server process has an instance id (welcome and pong); a client that sees it change knows
the server restarted, ends its jobs as interrupted and says hello again: no job is lost in silence."""
from __future__ import annotations

import socket
import time

import shared_protocol as sp
from blender_addon.io.client import Client
from tests.server.conftest import FAKE, make_job


def test_welcome_and_pong_carry_this_process_instance(server_factory, client_factory):
    first, second = server_factory(), server_factory()
    client = client_factory(first.endpoint)
    welcome = client.hello()
    pong = client.request(sp.make_ping())
    assert pong.type == "pong"
    assert isinstance(welcome.body["instance"], str) and welcome.body["instance"] == pong.body["instance"]
    other = client_factory(second.endpoint).hello()
    assert other.body["instance"] != welcome.body["instance"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def poll_until(client: Client, kinds: set[str], timeout: float = 30.0) -> list:
    """Poll the add-on's client (never blocks) until an event of one of ``kinds`` arrives."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = client.poll(budget_s=0.05)
        seen.extend(events)
        if any(ev.kind in kinds for ev in events):
            return seen
        if client.socket is not None:
            client.socket.poll(50)
    raise AssertionError(f"none of {kinds} within {timeout} s; got {[ev.kind for ev in seen]}")


def test_addon_client_ends_jobs_when_the_server_restarts(spawn_server):
    bind = f"tcp://127.0.0.1:{free_port()}"
    args = ("--backend", FAKE, "--backend-option", "delay=0.2", "--bind", bind, "--heartbeat-interval", "0.2")
    first = spawn_server(*args)
    # The client's clock stands still while the server restarts: a new process takes seconds to
    # start on a loaded machine, longer than the silence rule (2 s) this test is not about.
    paused = {"at": None, "total": 0.0}

    def clock() -> float:
        now = paused["at"] if paused["at"] is not None else time.monotonic()
        return now - paused["total"]

    client = Client(bind, timeout_s=20, clock=clock)
    try:
        client.connect()
        assert any(ev.kind == "connected" for ev in poll_until(client, {"connected"}))
        old_instance = client.instance
        job = make_job(frames=60, seed=4)
        request = client.submit(job.body, job.payloads)
        accepted = [ev for ev in poll_until(client, {"accepted"}) if ev.kind == "accepted"]
        assert accepted[0].re == request
        job_id = accepted[0].job
        paused["at"] = time.monotonic()
        first.proc.kill()               # killed and restarted within the silence rule (client time)
        first.proc.wait(10)
        spawn_server(*args)
        paused["total"] += time.monotonic() - paused["at"]
        paused["at"] = None
        events = poll_until(client, {"server_restarted", "server_lost"})
        restarted = [ev for ev in events if ev.kind == "server_restarted"]
        assert restarted, [ev.kind for ev in events]
        assert restarted[0].body["jobs"] == [job_id] and "restarted" in restarted[0].message
        assert not any(ev.kind in sp.FINAL_TYPES for ev in events)
        assert client.instance != old_instance and not client.open_jobs
        poll_until(client, {"connected"})   # it said hello again on its own
        assert client.ready
    finally:
        client.close()
