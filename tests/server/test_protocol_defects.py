"""The protocol defects an outside test found, each pinned: replies never echo a bad id, never
show Python internals, refuse server-only types as bad_message, check hello's two versions, answer
an oversized message, count max_queue as queued or running, and keep one client from filling it."""
from __future__ import annotations

import logging
import os
import signal

import msgpack
import pytest
import zmq

import shared_protocol as sp
from tests.server.conftest import make_job


def raw_header(**header) -> list[bytes]:
    base = {"v": [1, 0], "type": "status", "id": "abc", "body": {}, "npayloads": 0}
    base.update(header)
    return [msgpack.packb(base, use_bin_type=True)]


def reply_to(client, frames, timeout=10.0) -> sp.Message:
    """Send raw frames; the next non-ping message, decoded (decode itself checks `re` is valid)."""
    client.send_raw(frames)
    msg = client.recv(timeout)
    assert msg is not None, "no reply"
    return msg


@pytest.mark.parametrize("bad_id", ["", "x" * 10_000, 7])
def test_bad_message_reply_never_copies_an_invalid_id(server_factory, client_factory, bad_id):
    client = client_factory(server_factory().endpoint)
    reply = reply_to(client, raw_header(id=bad_id))
    assert reply.type == "error" and reply.body["code"] == "bad_message" and reply.body["field"] == "header.id"
    assert reply.re is None


def test_deep_nesting_is_invalid_field_without_python_internals(server_factory, client_factory):
    client = client_factory(server_factory().endpoint)
    nested: list = []
    root = nested
    for _ in range(1000):
        nested.append([])
        nested = nested[0]
    reply = reply_to(client, raw_header(type="submit", body={"reference": {"a": root}, "tracks": []}))
    error = reply.body["error"] if reply.type == "rejected" else reply.body
    assert error["code"] == "invalid_field", error
    assert error["field"].startswith("reference.a[0]")
    assert reply.re == "abc"
    for word in ("Recursion", "Traceback", "Error:", "maximum recursion"):
        assert word not in error["message"]


def test_validation_bug_reply_shows_no_internals(monkeypatch):
    import shared_protocol.validation as validation

    def broken(*_a, **_k):
        raise KeyError("secret_internal_name")
    monkeypatch.setattr(validation, "_validate_job", broken)
    with pytest.raises(sp.ProtocolError) as info:
        sp.validate_job({}, [])
    assert info.value.code == "internal" and "secret_internal_name" not in info.value.message
    assert "KeyError" not in info.value.message


@pytest.mark.parametrize("kind", ["welcome", "error", "status_reply", "plan_result", "rejected"])
def test_server_only_types_from_a_client_are_bad_message(server_factory, client_factory, kind):
    client = client_factory(server_factory().endpoint)
    reply = reply_to(client, raw_header(type=kind, body={}))
    assert reply.type == "error"
    assert reply.body["code"] == "bad_message" and reply.body["field"] == "header.type", reply.body
    assert reply.re == "abc"


def test_hello_whose_body_version_differs_from_its_header_is_refused(server_factory, client_factory):
    client = client_factory(server_factory().endpoint)
    reply = reply_to(client, raw_header(type="hello", body={"client": "t", "protocol": [2, 0]}))
    assert reply.type == "error" and reply.body["code"] == "unsupported_version"
    assert reply.body["field"] == "protocol"
    reply = reply_to(client, raw_header(type="hello", id="h2", body={"client": "t", "protocol": [1, 7]}))
    assert reply.type == "error" and reply.body["code"] == "invalid_field" and reply.re == "h2"
    assert client.hello().type == "welcome"     # the matching one is welcomed
    old = reply_to(client, raw_header(type="hello", id="h3", body={"client": "1.0 peer", "protocol": [1, 0]}))
    assert old.type == "welcome" and old.re == "h3"     # a 1.0 client keeps working


def test_oversized_message_is_answered_with_too_large_and_the_limit(server_factory, client_factory):
    limit = 300_000
    server = server_factory(max_message_bytes=limit)
    client = client_factory(server.endpoint)
    msg = sp.Message(type="status", payloads=[b"\0" * (limit + 50_000)])
    reply = reply_to(client, sp.encode(msg))
    assert reply.type == "error" and reply.body["code"] == "too_large", reply.body
    assert reply.body["limit"] == limit and reply.re == msg.id


def test_max_queue_is_jobs_queued_or_running(server_factory, client_factory):
    server = server_factory(backend_options={"delay": "0.2"}, queue_length=3)
    a, b = client_factory(server.endpoint), client_factory(server.endpoint)
    assert a.hello().body["limits"]["max_queue"] == 3
    streams = [a.submit(make_job(frames=3, seed=i)) for i in range(2)] + [b.submit(make_job(frames=3, seed=9))]
    for client, stream in ((a, streams[0]), (a, streams[1]), (b, streams[2])):
        client.wait_accepted(stream, 10)
    extra = b.submit(make_job(frames=2, seed=10))   # 3 live (1 running + 2 queued): full
    b.wait_all([extra], 10)
    assert extra.rejected is not None and extra.rejected.body["error"]["code"] == "queue_full"
    assert extra.rejected.body["error"]["limit"] == 3
    a.wait_all(streams[:2], 30)
    b.wait_all(streams[2:], 30)


def test_one_client_cannot_fill_the_queue(server_factory, client_factory):
    server = server_factory(backend_options={"delay": "0.2"}, queue_length=8, client_quota=2)
    greedy, other = client_factory(server.endpoint), client_factory(server.endpoint)
    mine = [greedy.submit(make_job(frames=2, seed=i)) for i in range(5)]
    greedy.wait_all(mine, 30)
    rejected = [s for s in mine if s.rejected]
    assert len(rejected) == 3
    assert all(s.rejected.body["error"]["code"] == "queue_full" and s.rejected.body["error"]["limit"] == 2
               for s in rejected)
    first = other.submit(make_job(frames=2, seed=50))
    other.wait_all([first], 30)
    assert first.final is not None and first.final.type == "done"


@pytest.mark.parametrize("address", ["tcp://lo:*", "tcp://127.1:*", "tcp://[::ffff:127.0.0.1]:*", "tcp://[::1]:*"])
def test_loopback_spellings_bind_without_keys(address):
    from server.cli import StartupError, build_service
    from server.config import ServerConfig
    assert sp.is_loopback(address)
    service, _ = build_service(ServerConfig(bind=address, backend="tests.server.fake_backend:create"))
    try:
        try:
            service.bind()
        except OSError as exc:      # a machine without IPv6 on lo: the message must say so plainly
            assert "No such device" not in str(exc), exc
            pytest.skip(f"this machine cannot bind {address}: {exc}")
    except StartupError as exc:
        pytest.fail(f"refused a loopback address: {exc}")
    finally:
        service.abort()


def test_world_readable_secret_key_is_warned_about(tmp_path, caplog):
    import zmq.auth
    from server.security import load_curve_keys
    public, secret = zmq.auth.create_certificates(str(tmp_path), "server")
    clients = tmp_path / "clients"
    clients.mkdir()
    os.chmod(secret, 0o644)
    with caplog.at_level(logging.WARNING, logger="trackgo.server.security"):
        load_curve_keys(secret, clients)
    assert any("can be read by other users" in r.getMessage() for r in caplog.records)
    caplog.clear()
    os.chmod(secret, 0o600)
    with caplog.at_level(logging.WARNING, logger="trackgo.server.security"):
        load_curve_keys(secret, clients)
    assert not any("can be read by other users" in r.getMessage() for r in caplog.records)


def test_sigterm_with_stdout_closed_exits_zero(spawn_server):
    server = spawn_server("--backend", "tests.server.fake_backend:create", "--bind", "tcp://127.0.0.1:*")
    server.proc.stdout.close()          # Blender went away: nobody reads the server's stdout
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(30) == 0
    err = server.proc.stderr.read()
    assert "BrokenPipeError" not in err and "Traceback" not in err, err


def test_done_total_is_taken_when_done_is_sent():
    # The backend measured 1 s; the job was accepted 1000 s (of monotonic clock) before its done
    # goes out: total must be accepted -> done as sent, not the backend's figure.
    import time

    from server.backends.base import BackendOptions, JobContext
    from server.encoding import FrameEncoder
    from server.job_events import FinalPosted
    from server.jobs import JobRecord
    from server.service import Service
    from tests.server.fake_backend import create

    service = Service(bind="tcp://127.0.0.1:*", backends=[create(BackendOptions())], encoder=FrameEncoder(1),
                      limits=sp.Limits(), queue_length=4)
    sent = []
    service.sender.send = lambda identity, frames: sent.append(sp.decode(frames))
    try:
        record = JobRecord("job1", b"c", "req1", None, JobContext("job1", 1), state="running",
                           accepted_at=time.monotonic() - 1000.0)
        service.jobs["job1"] = record
        service._handle_posted(FinalPosted("job1", "done", {"timings": {"queued": 0.0, "run": 1.0, "total": 1.0},
                                                            "seed": 1, "params": {}, "frames": 0}, 0))
        (done,) = sent
        assert done.type == "done" and done.body["timings"]["total"] >= 1000.0
        assert done.body["timings"]["run"] == 1.0
    finally:
        service.abort()
