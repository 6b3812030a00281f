"""``plan`` requests over the socket, against the fast test backend: the reply answers the request
(``re``), carries the points the job would use, names the field at fault, is ``busy`` past the
bound, and never holds up a running job's frames. The plan function itself is the real
``server.motion.plan_for_job`` unless a test swaps it (the service's documented test hook)."""
from __future__ import annotations

import threading

import numpy as np

import shared_protocol as sp
from server.plans import MAX_PENDING_PLANS
from tests.server.conftest import held, make_job

SQUARE = [[[20, 20], [50, 20], [50, 50], [20, 50]]]
ARROW = [[35, 35], [60, 40]]


def plan_request(frames: int = 4, seed: int = 3, arrow=ARROW, **params) -> sp.Message:
    ref_w, ref_h = 96, 64
    reference = sp.raw_image(bytes([128]) * (ref_w * ref_h * 3), ref_w, ref_h, 3)
    return sp.make_plan(reference, [sp.track(SQUARE, arrow)],
                        dict(frames=frames, width=64, height=64, seed=seed, **params))


def next_reply(client, timeout: float = 30.0) -> sp.Message:
    msg = client.recv(timeout)
    assert msg is not None, "no reply"
    return msg


def test_a_plan_is_answered_with_the_points_and_their_path(server_factory, client_factory):
    server = server_factory()
    client = client_factory(server.endpoint)
    msg = plan_request(frames=4)
    reply = client.request(msg, timeout=30)
    assert reply.type == "plan_result" and reply.re == msg.id and reply.job is None, reply.body
    body = reply.body
    assert (body["frames"], body["width"], body["height"]) == (4, 96, 64)
    (track,) = body["tracks"]
    points, positions = np.array(track["points"]), np.array(track["positions"])
    assert len(points) > 0 and positions.shape == (4, len(points), 2)
    assert ((points >= 20) & (points <= 50)).all()             # inside the square mask
    np.testing.assert_allclose(positions[-1] - positions[0], np.broadcast_to([25, 5], points.shape), atol=0.01)
    assert not client.others[:-1]                              # one reply, nothing else


def test_a_plan_with_a_bad_field_is_an_error_naming_it(server_factory, client_factory):
    server = server_factory()
    client = client_factory(server.endpoint)
    msg = plan_request(frames=1)                               # frames must be >= 2
    reply = client.request(msg)
    assert reply.type == "error" and reply.re == msg.id and reply.job is None
    assert reply.body["code"] == "invalid_field" and reply.body["field"] == "params.frames"
    # a backend this server does not run is refused as for a submit
    msg = plan_request(backend="trackgo")
    reply = client.request(msg)
    assert reply.type == "error" and reply.re == msg.id and reply.body["field"] == "params.backend"
    # the plan thread had nothing to do: the next good plan is answered
    assert client.request(plan_request(), timeout=30).type == "plan_result"


def test_a_motion_error_names_its_field_and_a_crash_is_internal(server_factory, client_factory):
    from server.motion import MotionInputError

    server = server_factory()
    client = client_factory(server.endpoint)

    def refuse(job):
        raise MotionInputError("tracks[0].mask", "the mask has no pixel inside the reference " + "x" * 600)

    server.service._plan = refuse
    msg = plan_request()
    reply = client.request(msg, timeout=30)
    assert reply.type == "error" and reply.re == msg.id
    assert reply.body["code"] == "invalid_field" and reply.body["field"] == "tracks[0].mask"
    assert reply.body["message"].startswith("the mask has no pixel") and len(reply.body["message"]) == 500
    assert reply.body["hint"] is None

    def crash(job):
        raise ZeroDivisionError("a bug")

    server.service._plan = crash
    msg = plan_request()
    reply = client.request(msg, timeout=30)
    assert reply.type == "error" and reply.re == msg.id
    assert reply.body == {"code": "internal", "message": "the plan could not be computed (a bug on the server)",
                          "field": None, "hint": "the server log has the traceback"}
    assert client.request(sp.make_ping(1.0)).type == "pong"     # the server keeps serving


def test_a_server_without_a_plan_function_says_so(server_factory, client_factory):
    server = server_factory()
    server.service._plan = None
    client = client_factory(server.endpoint)
    msg = plan_request()
    reply = client.request(msg)
    assert reply.type == "error" and reply.re == msg.id
    assert reply.body == {"code": "internal", "field": None, "hint": None,
                          "message": "this server cannot compute plans (server.motion missing)"}
    # a bad request is still refused for its field first
    reply = client.request(plan_request(frames=1))
    assert reply.body["field"] == "params.frames"


def test_plans_past_the_bound_are_busy_and_the_count_goes_back_down(server_factory, client_factory):
    server = server_factory()
    release = threading.Event()
    real_plan = server.service._plan
    server.service._plan = lambda job: (release.wait(60), real_plan(job))[1]
    client = client_factory(server.endpoint)
    msgs = [plan_request(seed=i) for i in range(MAX_PENDING_PLANS + 1)]
    for msg in msgs:
        client.send(msg)
    busy = next_reply(client)                # the only reply while the plans wait: the last one's
    assert (busy.type, busy.re, busy.body["code"], busy.body["field"]) == ("error", msgs[-1].id, "busy", None)
    assert str(MAX_PENDING_PLANS) in busy.body["message"] and busy.body["hint"]
    release.set()
    replies = [next_reply(client) for _ in range(MAX_PENDING_PLANS)]
    assert [(m.type, m.re) for m in replies] == [("plan_result", m.id) for m in msgs[:MAX_PENDING_PLANS]]
    # every pending plan was counted off: a full round fits again, with no busy
    for msg in msgs[:MAX_PENDING_PLANS]:
        client.send(msg)
    replies = [next_reply(client) for _ in range(MAX_PENDING_PLANS)]
    assert [m.type for m in replies] == ["plan_result"] * MAX_PENDING_PLANS


def test_failed_plans_are_counted_off_too(server_factory, client_factory):
    server = server_factory()

    def crash(job):
        raise RuntimeError("a bug")

    server.service._plan = crash
    client = client_factory(server.endpoint)
    for _ in range(MAX_PENDING_PLANS + 1):
        reply = client.request(plan_request(), timeout=30)
        assert reply.body["code"] == "internal"


def test_a_waiting_plan_does_not_hold_up_a_running_jobs_frames(server_factory, client_factory):
    server = server_factory(backend_options={"hold": "1"})
    release = threading.Event()
    real_plan = server.service._plan
    server.service._plan = lambda job: (release.wait(60), real_plan(job))[1]
    client = client_factory(server.endpoint)
    plan = client.send(plan_request())
    stream = client.submit(make_job(frames=3, seed=4))
    client.wait_accepted(stream)
    held(server).open()
    client.wait_all([stream], 30)
    assert stream.final.type == "done" and len(stream.frames) == 3
    assert not [m for m in client.others if m.re == plan.id]       # still computing
    release.set()
    reply = next_reply(client)
    assert reply.type == "plan_result" and reply.re == plan.id


def test_each_plan_reply_goes_to_the_client_that_asked(server_factory, client_factory):
    server = server_factory()
    askers = [client_factory(server.endpoint) for _ in range(2)]
    msgs = [c.send(plan_request(seed=i)) for i, c in enumerate(askers)]
    for client, msg in zip(askers, msgs):
        reply = next_reply(client)
        assert reply.type == "plan_result" and reply.re == msg.id
