"""Cancel, vanished clients, failing backends: one final message per job, and the server keeps serving."""
from __future__ import annotations

import time

import shared_protocol as sp
from tests.server.conftest import held, make_job, queued_positions, wait_until
from tests.server.fake_backend import BAD_FRAME_SEED, FAIL_SEED, ODD_INFO_SEED, OOM_SEED


def finals(stream) -> list:
    return [m for m in stream.messages if m.type in sp.FINAL_TYPES]




def test_cancel_queued_job(server_factory, client_factory):
    server = server_factory(backend_options={"hold": "1"})
    client = client_factory(server.endpoint)
    running = client.submit(make_job(frames=4, seed=1))
    queued = client.submit(make_job(frames=4, seed=2))
    client.wait_accepted(running)
    job_id = client.wait_accepted(queued)
    cancel = client.send(sp.make_cancel(job_id))
    client.wait_all([queued], 10)
    assert [m.type for m in finals(queued)] == ["cancelled"]
    assert queued.final.re == cancel.id          # the answer to that cancel request
    assert queued.final.body["frames_sent"] == 0 and not queued.frames
    held(server).open()
    client.wait_all([running], 10)
    assert running.final.type == "done"
    assert job_id not in held(server).started_jobs


def test_cancelling_a_queued_job_moves_the_jobs_behind_it_up(server_factory, client_factory):
    server = server_factory(backend_options={"hold": "1"}, queue_length=8)
    a, b = client_factory(server.endpoint), client_factory(server.endpoint)
    running = a.submit(make_job(frames=2, seed=1))
    a.wait_accepted(running)
    b_first = b.submit(make_job(frames=2, seed=2))
    jb = b.wait_accepted(b_first)
    a_later = [a.submit(make_job(frames=2, seed=3 + i)) for i in range(2)]
    for s in a_later:
        a.wait_accepted(s)
    assert [s.messages[0].body["queue_position"] for s in (b_first, *a_later)] == [1, 2, 3]
    b.send(sp.make_cancel(jb))
    b.wait_all([b_first], 10)
    assert b_first.final.type == "cancelled"
    # The server tells a's waiting jobs they moved up while it handles the cancel, before it reads
    # a's status request: so by the status reply those messages have arrived (one ordered pipe).
    status = a.request(sp.make_status()).body["jobs"]
    assert [queued_positions(s) for s in a_later] == [[1], [2]]
    assert [j["queue_position"] for j in status if j["state"] == "queued"] == [1, 2]
    held(server).open()
    a.wait_all([running, *a_later], 30)


def test_a_client_cannot_cancel_another_clients_job(server_factory, client_factory):
    server = server_factory(backend_options={"hold": "1"})
    owner, other = client_factory(server.endpoint), client_factory(server.endpoint)
    running = owner.submit(make_job(frames=2, seed=1))
    queued = owner.submit(make_job(frames=2, seed=2))
    ids = [owner.wait_accepted(running), owner.wait_accepted(queued)]
    for job_id in ids:
        reply = other.request(sp.make_cancel(job_id))
        assert reply.type == "error" and reply.body["code"] == "unknown_job" and reply.job is None
    states = {j["job"]: j["state"] for j in owner.request(sp.make_status()).body["jobs"]}
    assert states == {ids[0]: "running", ids[1]: "queued"}
    held(server).open()
    owner.wait_all([running, queued], 30)
    assert [s.final.type for s in (running, queued)] == ["done", "done"]
    assert not [m for m in other.others if m.job]          # nothing of owner's jobs reached the other


def test_cancel_running_job_stops_within_a_step(server_factory, client_factory):
    server = server_factory(backend_options={"hold": "1"})
    client = client_factory(server.endpoint)
    stream = client.submit(make_job(frames=60, seed=3))
    job_id = client.wait_accepted(stream)
    held(server).allow(2)
    assert wait_until(lambda: (client.recv(0.05), len(stream.frames) >= 2)[1], 10)
    cancel = client.send(sp.make_cancel(job_id))
    client.wait_all([stream], 10)
    assert stream.final.type == "cancelled" and stream.final.re == cancel.id
    assert stream.final.body["frames_sent"] == len(stream.frames) == 2
    # The device is free again: the next job runs (the cancelled one never got another permit).
    held(server).open()
    nxt = client.run_job(make_job(frames=2, seed=4), timeout=10)
    assert nxt.final.type == "done"
    # The worker ran the cancelled job's generator to its end before starting the next job, and
    # the server sends in order: anything late from it would have arrived before `done`.
    assert len(finals(stream)) == 1 and stream.messages[-1].type == "cancelled"


def test_cancel_of_a_finished_or_unknown_job_is_an_error_and_changes_nothing(server_factory, client_factory):
    server = server_factory()
    client = client_factory(server.endpoint)
    finished = client.run_job(make_job(frames=2, seed=5))
    assert finished.final.type == "done"
    for job_id in (finished.job_id, "nosuchjob"):
        reply = client.request(sp.make_cancel(job_id))
        assert reply.type == "error" and reply.body["code"] == "unknown_job" and reply.job is None
        assert set(reply.body) == {"code", "message", "field", "hint"} and reply.body["hint"] is None
        assert reply.body["field"] == "header.job" and repr(job_id) in reply.body["message"]
    assert [m.type for m in finals(finished)] == ["done"]


def test_client_vanishing_mid_job_frees_the_device(server_factory, client_factory):
    server = server_factory(backend_options={"delay": "0.05"}, heartbeat_interval=0.1, heartbeat_liveness=1000)
    leaver = client_factory(server.endpoint, answer_pings=False)
    stream = leaver.submit(make_job(frames=60, seed=5))
    leaver.wait_accepted(stream)
    leaver.wait_accepted(leaver.submit(make_job(frames=60, seed=6)))   # queued behind: must be dropped as well
    leaver.close()                                   # gone without a word
    assert wait_until(lambda: not server.service.jobs, timeout=5), "jobs of the vanished client still live"
    other = client_factory(server.endpoint)
    nxt = other.run_job(make_job(frames=2, seed=7), timeout=10)
    assert nxt.final.type == "done"
    started = server.service.workers[0].backend.started_jobs
    assert len(started) == 2                         # the queued job of the leaver never ran


def test_backend_exception_then_next_job_fine(server_factory, client_factory):
    server = server_factory()
    client = client_factory(server.endpoint)
    failed = client.run_job(make_job(frames=4, seed=FAIL_SEED))
    assert [m.type for m in finals(failed)] == ["error"]
    body = failed.final.body
    assert body["code"] == "backend_error" and "deliberate failure" in body["message"] and body["hint"]
    assert len(failed.frames) == 1                   # the frame made before the failure was delivered
    assert client.run_job(make_job(frames=3, seed=8)).final.type == "done"


def test_out_of_memory_gets_actionable_error(server_factory, client_factory):
    server = server_factory()
    client = client_factory(server.endpoint)
    failed = client.run_job(make_job(frames=4, seed=OOM_SEED))
    body = failed.final.body
    assert body["code"] == "out_of_memory"
    assert "smaller" in body["hint"] and "fewer frames" in body["hint"] and "--cpu-offload" in body["hint"]
    assert client.run_job(make_job(frames=2, seed=9)).final.type == "done"


def test_bad_frame_from_backend_is_an_error(server_factory, client_factory):
    server = server_factory()
    client = client_factory(server.endpoint)
    failed = client.run_job(make_job(frames=3, seed=BAD_FRAME_SEED))
    assert failed.final.type == "error" and "frame 0" in failed.final.body["message"]
    assert client.run_job(make_job(frames=2, seed=10)).final.type == "done"


def test_status_lists_own_jobs(server_factory, client_factory):
    server = server_factory(backend_options={"hold": "1"})
    a, b = client_factory(server.endpoint), client_factory(server.endpoint)
    ja = a.wait_accepted(a.submit(make_job(frames=5, seed=11)))
    jb = b.wait_accepted(b.submit(make_job(frames=5, seed=12)))
    status = b.request(sp.make_status()).body
    assert [(j["job"], j["state"], j["queue_position"]) for j in status["jobs"]] == [(jb, "queued", 1)]
    assert status["busy"] is True and status["queue_length"] == 1
    a.send(sp.make_cancel(ja))
    b.send(sp.make_cancel(jb))
    a.wait_all(a.streams.values(), 5)
    b.wait_all(b.streams.values(), 5)


def test_silent_client_is_dropped_and_told_when_it_returns(server_factory, client_factory):
    server = server_factory(backend_options={"delay": "0.05"}, heartbeat_interval=0.1, heartbeat_liveness=3)
    sleeper = client_factory(server.endpoint, answer_pings=False)    # connected, but says nothing
    stream = sleeper.submit(make_job(frames=60, seed=13))
    sleeper.wait_accepted(stream)
    assert wait_until(lambda: not server.service.jobs, timeout=5), "silent client's job still live"
    other = client_factory(server.endpoint)
    assert other.run_job(make_job(frames=2, seed=14), timeout=10).final.type == "done"
    sleeper.send(sp.make_ping())                                     # wakes up
    sleeper.wait_all([stream], 5)
    assert [m.type for m in finals(stream)] == ["cancelled"]
    assert stream.final.body["reason"] == "client_timed_out"
    assert [m.seq for m in stream.messages] == list(range(len(stream.messages)))


def test_backend_info_with_numpy_values_still_ends_with_done(server_factory, client_factory):
    server = server_factory()
    client = client_factory(server.endpoint)
    stream = client.run_job(make_job(frames=2, seed=ODD_INFO_SEED))
    assert stream.final.type == "done"
    assert stream.final.body["info"] == {"count": 3, "scale": 1.5, "where": "/models/x", "shape": [2, 3],
                                         "nested": {"flag": True}}


def test_client_that_stops_reading_is_dropped_at_the_backlog_bound(server_factory, client_factory, monkeypatch,
                                                                    caplog):
    import logging

    import server.sending as sending
    import zmq

    caplog.set_level(logging.INFO, logger="trackgo")
    monkeypatch.setattr(sending, "MAX_BACKLOG_BYTES", 256 * 1024)
    server = server_factory(backend_options={"textured": "1"}, png_compression=0)
    stalled = client_factory(server.endpoint)
    stalled.socket.setsockopt(zmq.RCVHWM, 1)      # takes (almost) nothing off the wire
    stalled.send(make_job(frames=64, width=256, height=256, seed=15))
    assert wait_until(lambda: not server.service.jobs and server.service.workers[0].backend.started_jobs,
                      timeout=20), "a client that never reads still holds its job"
    assert any("not reading" in r.getMessage() for r in caplog.records)   # dropped, not finished
    other = client_factory(server.endpoint)
    assert other.run_job(make_job(frames=2, seed=16), timeout=20).final.type == "done"


def test_client_not_reading_is_dropped_and_its_jobs_remembered(monkeypatch):
    # A client whose unread replies pass MAX_BACKLOG_BYTES loses its jobs; it is still connected,
    # so like a silent one it must get each job's final `cancelled` when it speaks again.
    import server.sending as sending
    import server.service as service_module
    from server.backends.base import BackendOptions, JobContext
    from server.jobs import JobRecord
    from server.encoding import FrameEncoder
    from tests.server.fake_backend import create

    service = service_module.Service(bind="tcp://127.0.0.1:*", backends=[create(BackendOptions())],
                                     encoder=FrameEncoder(1), limits=sp.Limits(), queue_length=4)
    try:
        identity = b"\x00slow"
        session = service.sessions[identity] = service_module.Session(identity, time.monotonic())
        record = JobRecord("job1", identity, "req1", None, JobContext("job1", 1), state="running")
        service.jobs["job1"] = record
        monkeypatch.setattr(sending, "MAX_BACKLOG_BYTES", 100)
        service.sender.queue_backlog(session, [identity, b"x" * 200])
        assert identity not in service.sessions and not service.jobs and record.ctx.cancelled()
        assert service.sessions.orphans[identity] == ("client_timed_out", [record])
    finally:
        service.abort()
