"""A test backend for the server subprocess: the preview backend with a pause per frame.

Loaded by the real server as ``--backend tests.blender.slow_backend:create_backend`` so the
add-on's tests can cancel a job or kill the server while frames are still streaming.
"""
import os
import time

from server.backends.base import Frame
from server.backends.preview import PreviewBackend


class SlowPreviewBackend(PreviewBackend):
    name = "slow-preview"

    def run(self, job, ctx):
        delay = float(os.environ.get("TRACKGO_TEST_FRAME_DELAY", "0.3"))
        for event in super().run(job, ctx):
            yield event
            if isinstance(event, Frame):
                end = time.monotonic() + delay
                while time.monotonic() < end and not ctx.cancelled():
                    time.sleep(0.01)


def create_backend(options=None):
    return SlowPreviewBackend(options)
