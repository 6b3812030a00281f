"""One job's reply stream, message by message, as the service builds it: each body exact, each
message carrying the job and its place (``seq``), the request answered by ``re``; and a refused
submit answered by a ``rejected`` whose ``error`` names the field."""
from __future__ import annotations

import time

import shared_protocol as sp
from tests.server.conftest import held, make_job


def test_each_message_of_a_job_has_its_exact_body(server_factory, client_factory):
    server = server_factory(backend_options={"hold": "1"})
    client = client_factory(server.endpoint)
    msg = make_job(frames=3, width=128, height=64, seed=5)
    sent_at = time.monotonic()
    stream = client.submit(msg)
    job_id = client.wait_accepted(stream)
    held(server).open()
    client.wait_all([stream], 30)
    waited = time.monotonic() - sent_at
    accepted, preparing, *rest = stream.messages
    assert (accepted.type, accepted.re, accepted.job, accepted.body) == ("accepted", msg.id, job_id,
                                                                           {"queue_position": 1})
    assert preparing.type == "progress" and preparing.re is None
    assert preparing.body == {"stage": "preparing", "step": 0, "total": 0, "eta_s": None, "queue_position": 0}
    assert all(m.job == job_id for m in stream.messages)
    assert [m.seq for m in stream.messages] == list(range(len(stream.messages)))
    steps = [m.body for m in rest if m.type == "progress"]
    assert [(b["stage"], b["step"], b["total"]) for b in steps] == [("denoising", i, 3) for i in (1, 2, 3)]
    assert all(set(b) == {"stage", "step", "total", "eta_s"} for b in steps)   # no message: none given
    assert [f.body for f in stream.frames] == [{"index": i, "total": 3, "format": "png", "width": 128,
                                                "height": 64} for i in range(3)]
    assert all(len(f.payloads) == 1 and f.payloads[0][:8] == b"\x89PNG\r\n\x1a\n" for f in stream.frames)
    done = stream.messages[-1]
    assert done.type == "done" and done.re is None and done.body["frames"] == 3 and done.body["seed"] == 5
    # accepted -> done as the server measured it lies within submit -> done as the client saw it
    assert 0 <= done.body["timings"]["total"] <= waited


def test_a_refused_submit_is_rejected_with_the_field_and_nothing_else(server_factory, client_factory):
    server = server_factory()
    client = client_factory(server.endpoint)
    msg = make_job(frames=2, width=65)                       # sizes are multiples of 64
    stream = client.run_job(msg)
    reply = stream.rejected
    assert reply is not None and reply.re == msg.id and reply.job is None and stream.job_id is None
    assert set(reply.body) == {"error"}
    error = reply.body["error"]
    assert error["code"] == "invalid_field" and error["field"] == "params.width" and error["message"]
    status = client.request(sp.make_status()).body
    assert status["jobs"] == [] and status["queue_length"] == 0


def test_a_full_queue_is_a_rejected_naming_the_limit(server_factory, client_factory):
    server = server_factory(backend_options={"hold": "1"}, queue_length=2)
    client = client_factory(server.endpoint)
    first, second = (client.submit(make_job(frames=2, seed=i)) for i in (1, 2))
    client.wait_accepted(first)
    assert client.wait_accepted(second) and second.messages[0].body == {"queue_position": 1}
    other = client_factory(server.endpoint)
    msg = make_job(frames=2, seed=3)
    refused = other.run_job(msg)
    assert refused.rejected.re == msg.id
    assert refused.rejected.body == {"error": {
        "code": "queue_full", "field": None, "limit": 2,
        "message": "the server has 2 jobs queued or running, its limit (max_queue 2)",
        "hint": "wait for a job to finish, then submit again"}}
    held(server).open()
    client.wait_all([first, second], 30)
    assert [s.final.type for s in (first, second)] == ["done", "done"]


def test_a_report_that_cannot_be_encoded_is_dropped_and_a_final_one_becomes_an_error(server_factory,
                                                                                    client_factory, caplog):
    import logging

    caplog.set_level(logging.ERROR, logger="trackgo")
    server = server_factory(backend="tests.server.unencodable_backend:create")
    client = client_factory(server.endpoint)
    stream = client.run_job(make_job(frames=3, seed=6), timeout=30)
    job_id = stream.job_id
    steps = [m.body["step"] for m in stream.messages if m.type == "progress" and m.body["stage"] == "denoising"]
    assert steps == [1, 3]                                   # step 2 (2**70) could not be sent
    last = [m.body for m in stream.messages if m.type == "progress"][-1]
    assert last["step"] == 3 and last["message"] == "last step"   # a report's message is passed on
    assert [f.body["index"] for f in stream.frames] == [0, 1, 2]
    final = stream.messages[-1]
    assert [m.type for m in stream.messages].count("error") == 1 and final is stream.final
    assert (final.type, final.job, final.re) == ("error", job_id, None)
    assert final.body == {"code": "internal", "message": "the server could not encode the job's done message",
                          "field": None, "hint": "the server log has details"}
    assert [m.seq for m in stream.messages] == list(range(len(stream.messages)))
    logged = [m for m in caplog.messages if m.startswith(f"job {job_id}: cannot encode its ")]
    assert [m.split(" cannot encode its ", 1)[1].split(" message (", 1)[0] for m in logged] == ["progress", "done"]
    assert all("cannot encode" in m.split(" message (", 1)[1] for m in logged)
    # the server keeps serving
    assert client.request(sp.make_status()).body["jobs"] == []


def test_seeds_the_server_picks_are_valid_seeds_and_differ(server_factory, client_factory):
    from shared_protocol.messages import MAX_SEED

    server = server_factory(queue_length=16, client_quota=16)
    client = client_factory(server.endpoint)
    streams = [client.submit(make_job(frames=2, seed=None)) for _ in range(16)]
    client.wait_all(streams, 60)
    seeds = [s.final.body["seed"] for s in streams]
    assert all(type(seed) is int and 0 <= seed <= MAX_SEED for seed in seeds), seeds
    assert len(set(seeds)) == len(seeds)          # drawn from 2**31 values: a repeat is a bug, not luck
