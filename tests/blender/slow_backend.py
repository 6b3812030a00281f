"""A test backend for the server subprocess: the preview backend that stops after a few frames.

Loaded by the real server as ``--backend tests.blender.slow_backend:create_backend`` so the
add-on's tests can cancel a job, disconnect or kill the server while a job is still streaming.
It sends ``FREE_FRAMES`` frames, then holds the next one until the job is cancelled (or the
client is dropped): the number of frames a test can see is fixed, whatever the machine's load,
and no test waits on the clock.
"""
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
                _wait_cancelled(ctx)
                return
            yield event
            sent += isinstance(event, Frame)


def _wait_cancelled(ctx) -> None:
    never = threading.Event()
    for _ in range(int(HOLD_LIMIT_S / 0.01)):
        if ctx.cancelled():
            return
        never.wait(0.01)


def create_backend(options=None):
    return SlowPreviewBackend(options)
