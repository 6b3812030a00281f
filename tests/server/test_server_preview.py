"""The real preview backend behind the socket, and the ``plan`` request wired to server.motion."""
from __future__ import annotations

import cv2
import numpy as np

import shared_protocol as sp


def textured_reference(width: int = 128, height: int = 64) -> sp.messages.Message:
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack([x * 2 % 256, y * 4 % 256, (x + y) % 256], axis=-1).astype(np.uint8)
    return sp.raw_image(rgb.tobytes(), width, height, 3)


SQUARE = [[[20, 16], [52, 16], [52, 48], [20, 48]]]
ARROW = [[36, 32], [96, 40]]


def test_preview_job_end_to_end(server_factory, client_factory):
    server = server_factory(backend="preview")
    client = client_factory(server.endpoint)
    assert client.hello().body["default_backend"] == "preview"
    msg = sp.make_submit(textured_reference(), [sp.track(SQUARE, ARROW)],
                         {"frames": 6, "width": 128, "height": 64, "seed": 3})
    stream = client.run_job(msg, timeout=60)
    assert stream.final.type == "done", stream.final.body
    frames = [cv2.imdecode(np.frombuffer(f.payloads[0], np.uint8), cv2.IMREAD_COLOR) for f in stream.frames]
    assert [f.body["index"] for f in stream.frames] == list(range(6))
    assert all(f.shape == (64, 128, 3) for f in frames)
    assert not np.array_equal(frames[0], frames[-1])     # the region moved


def test_plan_returns_the_points_the_job_uses(server_factory, client_factory):
    server = server_factory(backend="preview")
    client = client_factory(server.endpoint)
    plan = client.request(sp.make_plan(textured_reference(), [sp.track(SQUARE, ARROW)],
                                       {"frames": 5, "width": 128, "height": 64, "seed": 7}), timeout=30)
    assert plan.type == "plan_result", plan.body
    assert plan.body["frames"] == 5 and plan.body["width"] == 128 and plan.body["height"] == 64
    (track,) = plan.body["tracks"]
    points = np.array(track["points"])
    positions = np.array(track["positions"])
    assert positions.shape == (5, len(points), 2) and len(points) >= 16
    assert (points[:, 0] >= 20).all() and (points[:, 0] <= 52).all()
    assert (points[:, 1] >= 16).all() and (points[:, 1] <= 48).all()
    np.testing.assert_allclose(positions[-1] - positions[0], np.broadcast_to([60, 8], points.shape), atol=0.01)


def test_plan_with_bad_job_names_the_field(server_factory, client_factory):
    server = server_factory(backend="preview")
    client = client_factory(server.endpoint)
    msg = sp.make_plan(textured_reference(), [sp.track(SQUARE, [[1, 1], [1, 1]])], {"frames": 5, "width": 128,
                                                                                      "height": 64})
    reply = client.request(msg, timeout=30)
    assert reply.type == "error" and reply.body["field"].startswith("tracks[0].arrow")


def test_plans_beyond_the_bound_are_answered_busy(server_factory, client_factory):
    import threading

    from server.service import MAX_PENDING_PLANS
    server = server_factory(backend="preview")
    release = threading.Event()
    real_plan = server.service._plan
    server.service._plan = lambda job: (release.wait(30), real_plan(job))[1]
    client = client_factory(server.endpoint)
    msgs = [sp.make_plan(textured_reference(), [sp.track(SQUARE, ARROW)],
                         {"frames": 3, "width": 128, "height": 64, "seed": 1}) for _ in range(MAX_PENDING_PLANS + 2)]
    for msg in msgs:
        client.send(msg)
    busy = [client.recv(10) for _ in range(2)]   # nothing else can be answered while the plans wait
    assert [(m.type, m.body["code"], m.re) for m in busy] == [("error", "busy", msg.id) for msg in msgs[-2:]]
    release.set()
    replies = [client.recv(30) for _ in range(MAX_PENDING_PLANS)]
    assert [(m.type, m.re) for m in replies] == [("plan_result", msg.id) for msg in msgs[:MAX_PENDING_PLANS]]
    # the count went back down: a new plan is computed again
    assert client.request(msgs[0], timeout=30).type == "plan_result"
