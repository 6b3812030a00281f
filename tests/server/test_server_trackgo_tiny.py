"""The tiny random TrackGo model behind the socket: the whole path with torch, diffusers and the adapter."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

import shared_protocol as sp


def reference_64() -> sp.messages.Message:
    y, x = np.mgrid[0:64, 0:64]
    rgb = np.stack([x * 4 % 256, y * 4 % 256, (x + y) * 2 % 256], axis=-1).astype(np.uint8)
    return sp.raw_image(rgb.tobytes(), 64, 64, 3)


@pytest.mark.slow
def test_trackgo_tiny_job_and_cancel(server_factory, client_factory, tmp_path):
    server = server_factory(backend="trackgo-tiny", backend_options={"cache_dir": str(tmp_path)})
    client = client_factory(server.endpoint)
    track = sp.track([[[16, 16], [40, 16], [40, 40], [16, 40]]], [[28, 28], [44, 36]])
    params = {"frames": 4, "width": 64, "height": 64, "seed": 5, "num_inference_steps": 2}
    stream = client.run_job(sp.make_submit(reference_64(), [track], params), timeout=120)
    assert stream.final.type == "done", stream.final.body
    assert [f.body["index"] for f in stream.frames] == [0, 1, 2, 3]
    for f in stream.frames:
        assert cv2.imdecode(np.frombuffer(f.payloads[0], np.uint8), cv2.IMREAD_COLOR).shape == (64, 64, 3)
    stages = {m.body["stage"] for m in stream.messages if m.type == "progress"}
    assert "denoising" in stages
    assert stream.final.body["info"]["backend"] == "trackgo-tiny"

    # Cancel during denoising: the stream ends with one `cancelled`, the next job runs.
    long = client.submit(sp.make_submit(reference_64(), [track], dict(params, num_inference_steps=50, seed=6)))
    job_id = client.wait_accepted(long)
    while not any(m.type == "progress" and m.body["stage"] == "denoising" for m in long.messages):
        assert client.recv(60) is not None
    client.send(sp.make_cancel(job_id))
    client.wait_all([long], 30)
    assert [m.type for m in long.messages if m.type in sp.FINAL_TYPES] == ["cancelled"]
    again = client.run_job(sp.make_submit(reference_64(), [track], params), timeout=120)
    assert again.final.type == "done"
    # Same seed, same job: the same frames.
    assert [f.payloads[0] for f in again.frames] == [f.payloads[0] for f in stream.frames]
