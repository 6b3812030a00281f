"""A test backend for the server subprocess: the preview backend that stops after a few frames.

Loaded by the real server as ``--backend tests.blender.slow_backend:create_backend`` so the
add-on's tests can cancel a job, disconnect or kill the server while a job is still streaming.
It sends ``FREE_FRAMES`` frames, then holds the next one until the job is cancelled (or the
client is dropped): the number of frames a test can see is fixed, whatever the machine's load,
and no test waits on the clock. A test that wants the job to finish after all releases it: a
file named after the job's seed in ``$TRACKGO_SLOW_RELEASE_DIR`` (the ``slow_server`` fixture's
``release(seed)``) lets the rest of the frames go.
"""
import os
import threading

from server.backends.base import Frame
from server.backends.preview import PreviewBackend

FREE_FRAMES = 3
HOLD_LIMIT_S = 300.0    # a held job of a test that died without cancelling still ends


class SlowPreviewBackend(PreviewBackend):
    name = "slow-preview"

    def run(self, job, ctx):
        sent = 0
        for event in super().run(job, ctx):
            if isinstance(event, Frame) and sent == FREE_FRAMES:
                if not _wait_released(ctx, job.params.seed):
                    return
            yield event
            sent += isinstance(event, Frame)


def _wait_released(ctx, seed) -> bool:
    """True when the test released this job (its seed's file exists), False when it was cancelled
    or held past the limit."""
    folder = os.environ.get("TRACKGO_SLOW_RELEASE_DIR")
    marker = os.path.join(folder, str(seed)) if folder and seed is not None else None
    never = threading.Event()
    for _ in range(int(HOLD_LIMIT_S / 0.01)):
        if ctx.cancelled():
            return False
        if marker is not None and os.path.exists(marker):
            return True
        never.wait(0.01)
    return False


def create_backend(options=None):
    return SlowPreviewBackend(options)
