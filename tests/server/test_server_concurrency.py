"""Many clients at once, fair queueing over the socket, queue positions, a full queue."""
from __future__ import annotations

import collections

import cv2
import numpy as np

import shared_protocol as sp
from tests.server.conftest import held, make_job, queued_positions, wait_until
from tests.server.fake_backend import frame_colour


def test_many_clients_every_frame_delivered_once_to_its_owner(server_factory, client_factory):
    server = server_factory(queue_length=64)
    clients = [client_factory(server.endpoint) for _ in range(8)]
    jobs_per_client, frames = 4, 3
    streams = {}
    for c, client in enumerate(clients):
        for j in range(jobs_per_client):
            seed = 1000 + c * 10 + j          # unique per job: the frame colours identify the job
            streams[seed] = (client, client.submit(make_job(frames=frames, width=64, height=64, seed=seed)))
    for client in clients:
        client.wait_all([s for cl, s in streams.values() if cl is client], timeout=60)
    for seed, (client, stream) in streams.items():
        assert stream.final.type == "done", stream.final.body
        assert [m.seq for m in stream.messages] == list(range(len(stream.messages)))
        indices = [f.body["index"] for f in stream.frames]
        assert indices == list(range(frames))
        for f in stream.frames:
            bgr = cv2.imdecode(np.frombuffer(f.payloads[0], np.uint8), cv2.IMREAD_COLOR)
            assert tuple(int(v) for v in bgr[5, 5][::-1]) == frame_colour(seed, f.body["index"])
        # Nothing of another client's job arrived on this socket.
        assert all(m.job in {s.job_id for cl, s in streams.values() if cl is client}
                   for m in client.others if m.job)



def running_jobs(server) -> set:
    return {r.job_id for r in server.service.jobs.values() if r.state == "running"}



def test_fair_order_and_queue_positions(server_factory, client_factory):
    server = server_factory(backend_options={"hold": "1"}, queue_length=32)
    greedy, polite = client_factory(server.endpoint), client_factory(server.endpoint)
    greedy_streams = [greedy.submit(make_job(frames=2, seed=i)) for i in range(6)]
    for s in greedy_streams:
        greedy.wait_accepted(s)
    polite_stream = polite.submit(make_job(frames=2, seed=99))
    polite.wait_accepted(polite_stream)
    accepted = polite_stream.messages[0]
    # greedy0 runs; greedy was served last, so polite goes next, before the five waiting greedy jobs.
    assert accepted.body["queue_position"] == 1
    held(server).open()
    polite.wait_all([polite_stream], 30)
    greedy.wait_all(greedy_streams, 30)
    assert queued_positions(polite_stream) == []    # next from the start: no position update was needed
    started = held(server).started_jobs
    greedy_ids = [s.job_id for s in greedy_streams]
    assert started.index(polite_stream.job_id) == 1
    assert [j for j in started if j in greedy_ids] == greedy_ids


def test_waiting_jobs_are_told_when_a_newcomer_goes_ahead(server_factory, client_factory):
    server = server_factory(backend_options={"hold": "1"}, queue_length=32)
    greedy, polite = client_factory(server.endpoint), client_factory(server.endpoint)
    streams = [greedy.submit(make_job(frames=2, seed=i)) for i in range(3)]
    for s in streams:
        greedy.wait_accepted(s)
    assert [s.messages[0].body["queue_position"] for s in streams[1:]] == [1, 2]
    polite.wait_accepted(polite.submit(make_job(frames=2, seed=99)))   # goes next: greedy's two move back
    held(server).open()
    greedy.wait_all(streams, 30)
    for stream, moved_to in zip(streams[1:], (2, 3)):
        queued = queued_positions(stream)
        assert queued[0] == moved_to, queued


def test_positions_with_several_clients_each_holding_several_jobs(server_factory, client_factory):
    # Positions must follow the round-robin pop order, not list one client's jobs after another's.
    server = server_factory(backend_options={"hold": "1"}, queue_length=32)
    a, b, c = (client_factory(server.endpoint) for _ in range(3))
    first = a.submit(make_job(frames=2, seed=1))
    a.wait_accepted(first)                         # runs at once: a was served last
    streams = {}
    for client, name, seeds in ((a, "a", (2, 3, 4)), (b, "b", (5, 6, 7)), (c, "c", (8, 9))):
        for i, seed in enumerate(seeds):
            streams[f"{name}{i}"] = (client, client.submit(make_job(frames=2, seed=seed)))
            client.wait_accepted(streams[f"{name}{i}"][1])
    # Round robin from b (newcomers go ahead of a, served last): b0 c0 a0 b1 c1 a1 b2 a2
    expected = ["b0", "c0", "a0", "b1", "c1", "a1", "b2", "a2"]
    for client in (a, b, c):
        status = client.request(sp.make_status()).body
        mine = {j["job"]: j["queue_position"] for j in status["jobs"] if j["state"] == "queued"}
        for name, (owner, stream) in streams.items():
            if owner is client:
                assert mine[stream.job_id] == expected.index(name) + 1, (name, mine)
    # and the jobs really start in that order
    held(server).open()
    for client in (a, b, c):
        client.wait_all([s for owner, s in streams.values() if owner is client], 30)
    started = held(server).started_jobs
    by_id = {s.job_id: name for name, (_, s) in streams.items()}
    assert [by_id[j] for j in started[1:]] == expected


def test_full_queue_rejects(server_factory, client_factory):
    server = server_factory(backend_options={"hold": "1"}, queue_length=2)
    client = client_factory(server.endpoint)
    streams = [client.submit(make_job(frames=2, seed=i)) for i in range(5)]
    client.wait_all(streams[3:], 30)   # the two refused while one job runs and two wait
    held(server).open()
    client.wait_all(streams, 30)
    outcome = collections.Counter("rejected" if s.rejected else s.final.type for s in streams)
    # queue_length counts jobs queued or running (welcome.limits.max_queue): one running + one
    # waiting; the rest are turned away with queue_full
    assert outcome == {"done": 2, "rejected": 3}
    for s in streams:
        if s.rejected:
            assert s.rejected.body["error"]["code"] == "queue_full"


def test_one_worker_per_device_runs_jobs_side_by_side(server_factory, client_factory):
    server = server_factory(backend_options={"hold": "1"}, device="cpu,cpu")
    assert len(server.service.workers) == 2
    a, b = client_factory(server.endpoint), client_factory(server.endpoint)
    sa, sb = a.submit(make_job(frames=5, seed=1)), b.submit(make_job(frames=5, seed=2))
    ja, jb = a.wait_accepted(sa), b.wait_accepted(sb)
    # Both run while neither has made a single frame: neither waited for the other.
    assert wait_until(lambda: running_jobs(server) == {ja, jb}, timeout=10)
    assert not sa.frames and not sb.frames
    for worker in server.service.workers:
        worker.backend.open()
    a.wait_all([sa], 10)
    b.wait_all([sb], 10)
    assert sa.final.type == sb.final.type == "done"


def test_status_busy_only_when_every_worker_runs_a_job(server_factory, client_factory):
    server = server_factory(backend_options={"hold": "1"}, device="cpu,cpu")
    client = client_factory(server.endpoint)
    first = client.submit(make_job(frames=5, seed=1))
    client.wait_accepted(first)
    assert wait_until(lambda: len(server.service.runner.idle) == 1)
    assert client.request(sp.make_status()).body["busy"] is False    # one device is still free
    second = client.submit(make_job(frames=5, seed=2))
    client.wait_accepted(second)
    assert client.request(sp.make_status()).body["busy"] is True
    for worker in server.service.workers:
        worker.backend.open()
    client.wait_all([first, second], 30)


def test_one_device_runs_one_job_at_a_time(server_factory, client_factory):
    server = server_factory(backend_options={"hold": "1"})
    a, b = client_factory(server.endpoint), client_factory(server.endpoint)
    sa = a.submit(make_job(frames=5, seed=1))
    ja = a.wait_accepted(sa)                    # a's job is first: two sockets have no common order
    sb = b.submit(make_job(frames=5, seed=2))
    jb = b.wait_accepted(sb)
    status = b.request(sp.make_status()).body["jobs"]
    assert [(j["job"], j["state"]) for j in status] == [(jb, "queued")]
    held(server).allow(4)                       # a's job makes 4 of its 5 frames; b's still waits
    assert wait_until(lambda: (a.recv(0.05), len(sa.frames) == 4)[1], 10)
    assert held(server).started_jobs == [ja]
    assert b.request(sp.make_status()).body["jobs"][0]["state"] == "queued"
    held(server).open()
    a.wait_all([sa], 10)
    b.wait_all([sb], 10)
    assert held(server).started_jobs == [ja, jb]


def test_lazy_load_reports_loading_on_first_job(server_factory, client_factory):
    server = server_factory(lazy_load=True)
    backend = server.service.workers[0].backend
    assert backend.loads == 0
    client = client_factory(server.endpoint)
    assert client.hello().body["backends"][0]["ready"] is False
    first = client.run_job(make_job(frames=2, seed=1))
    stages = [m.body["stage"] for m in first.messages if m.type == "progress"]
    assert "loading" in stages and first.final.type == "done"
    second = client.run_job(make_job(frames=2, seed=2))
    assert "loading" not in [m.body["stage"] for m in second.messages if m.type == "progress"]
    assert backend.loads == 1
    assert client.hello().body["backends"][0]["ready"] is True
