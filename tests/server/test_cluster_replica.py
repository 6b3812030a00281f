"""The replica's streaming logic, driven in this process without Ray (its class is plain Python;
Serve only calls ``run`` and iterates it): frames encoded beside the backend, several events per
stream item, exactly one final, a cancel that reaches the backend and is finished before the
replica's next job starts."""
from __future__ import annotations

import asyncio

import cv2
import numpy as np

import shared_protocol as sp
from server.cluster.replica import TrackGoReplica
from server.job_events import FinalPosted, FramePosted, ProgressPosted
from tests.server.conftest import make_job
from tests.server.fake_backend import frame_colour

BACKEND = "tests.server.cluster_backend:create"


def replica(tmp_path, delay: str = "0") -> TrackGoReplica:
    options = {"extra": {"delay": delay, "marks": str(tmp_path)}}
    return TrackGoReplica(BACKEND, options, png_compression=1, encoder_threads=2)


def job(frames: int, seed: int):
    msg = make_job(frames=frames, seed=seed)
    return sp.validate_job(msg.body, msg.payloads)


def test_a_job_streams_every_frame_once_then_one_final(tmp_path):
    rep = replica(tmp_path)

    async def collect():
        return [batch async for batch in rep.run(job(6, 21), "job-a", 21, 0.0)]

    batches = asyncio.run(collect())
    assert all(isinstance(b, list) and b for b in batches)
    events = [e for b in batches for e in b]
    frames = sorted((e for e in events if isinstance(e, FramePosted)), key=lambda e: e.index)
    assert [f.index for f in frames] == list(range(6))
    for f in frames:
        bgr = cv2.imdecode(np.frombuffer(f.png, np.uint8), cv2.IMREAD_COLOR)
        assert tuple(int(v) for v in bgr[5, 5][::-1]) == frame_colour(21, f.index)
    finals = [e for e in events if isinstance(e, FinalPosted)]
    assert [(f.kind, f.frames_submitted) for f in finals] == [("done", 6)]
    assert any(isinstance(e, ProgressPosted) for e in events)
    assert len(batches) < len(events), "events that were ready together should share a stream item"


def test_a_cancelled_stream_stops_the_backend_before_the_next_job(tmp_path):
    rep = replica(tmp_path, delay="0.05")

    async def cancel_after_first_frame():
        stream = rep.run(job(64, 31), "job-c", 31, 0.0)
        async for batch in stream:
            if any(isinstance(e, FramePosted) for e in batch):
                break
        await stream.aclose()          # what Serve does when the front cancels the request
        return [e async for b in rep.run(job(2, 32), "job-d", 32, 0.0) for e in b]

    later = asyncio.run(cancel_after_first_frame())
    assert (tmp_path / "job-c.cancelled").exists(), "the backend never saw the cancel"
    assert [(f.kind, f.frames_submitted) for f in later if isinstance(f, FinalPosted)] == [("done", 2)]
